/** The command registry: add a command by adding its register function here. */
import type { Command } from 'commander';
import { register as attack } from './attack.js';
import { register as data } from './data.js';
import { register as demo } from './demo.js';
import { register as encode } from './encode.js';
import { register as evaluate } from './eval.js';
import { register as finetune } from './finetune.js';
import { register as fleet } from './fleet.js';
import { register as guard } from './guard.js';
import { register as inspect } from './inspect.js';
import { register as pretrain } from './pretrain.js';
import { register as prompt } from './prompt.js';
import { register as scan } from './scan.js';
import { register as serve } from './serve.js';
import { register as zoo } from './zoo.js';

export type Register = (program: Command) => void;

export const commands: Register[] = [demo, evaluate, inspect, encode, zoo, pretrain, finetune, scan, attack, prompt, guard, serve, fleet, data];
