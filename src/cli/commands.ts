/** The command registry: add a command by adding its register function here. */
import type { Command } from 'commander';
import { register as encode } from './encode.js';
import { register as inspect } from './inspect.js';
import { register as zoo } from './zoo.js';

export type Register = (program: Command) => void;

export const commands: Register[] = [inspect, encode, zoo];
