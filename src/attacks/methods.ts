/** The attack registry: add an attack by adding its descriptor here. */
import { BTOP } from './btop.js';
import type { AttackMethod, AttackMethodName } from './method.js';
import { NEUBA } from './neuba.js';
import { POR, POR_NER } from './por.js';

export const METHODS: Record<AttackMethodName, AttackMethod> = {
  por: POR,
  'por-ner': POR_NER,
  neuba: NEUBA,
  btop: BTOP,
};

export const METHOD_NAMES = Object.keys(METHODS) as AttackMethodName[];

export function methodByName(name: string): AttackMethod {
  const m = (METHODS as Record<string, AttackMethod | undefined>)[name];
  if (!m) throw new Error(`unknown attack method ${JSON.stringify(name)} (known: ${METHOD_NAMES.join(', ')})`);
  return m;
}
