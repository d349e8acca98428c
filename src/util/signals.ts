/**
 * Ctrl-C for long jobs: the first SIGINT (or SIGTERM) asks the job to stop
 * at the next safe point (it saves what it has); a second one exits at once.
 *
 * The jobs run synchronously between steps, so a JS signal listener would
 * only run after they finish: the native addon's C handler sets a flag
 * that the job polls instead. Without the addon, the JS listener is the
 * fallback (it takes effect where a job yields to the event loop).
 */
import { nativeAddon } from '../engine/kernels/native.js';
import { announce } from './progress.js';

const NOTICE = 'lmsanitator: interrupted; saving progress (Ctrl-C again to quit at once)';

export function interruptFlag(): { stopped: () => boolean; dispose: () => void } {
  const addon = nativeAddon;
  if (addon && typeof addon.installInterruptHandler === 'function') {
    addon.installInterruptHandler();
    let announced = false;
    const stopped = () => {
      const s = addon.interrupted();
      if (s && !announced) {
        announced = true;
        announce(NOTICE);
      }
      return s;
    };
    return { stopped, dispose: () => addon.removeInterruptHandler() };
  }
  let stop = false;
  const onSig = () => {
    if (stop) process.exit(130);
    stop = true;
    announce(NOTICE);
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  return {
    stopped: () => stop,
    dispose: () => {
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
    },
  };
}
