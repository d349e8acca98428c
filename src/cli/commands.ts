/** The command registry: add a command by adding its register function here. */
import type { Command } from 'commander';

export type Register = (program: Command) => void;

export const commands: Register[] = [];
