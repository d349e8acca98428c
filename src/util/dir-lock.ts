/**
 * One writer per working directory. A scan, search, victims or guard run
 * appends to a journal in its directory; two processes appending to the same
 * journal would interleave their loops and corrupt the resume. The lock is
 * a file created exclusively (O_EXCL), holding the owner's pid and host; a
 * lock whose process is gone (killed, machine rebooted) is taken over.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = '.lmsanitator.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` holding DIR's lock (creating DIR); refuses when another live
 * process holds it. A DIR this call created and `fn` left empty (it failed
 * before writing anything) is removed again.
 */
export function withDirLock<T>(dir: string, what: string, fn: () => T): T {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`output path ${dir} exists and is not a directory`);
  const created = !existsSync(dir);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  const me = `${process.pid} ${hostname()}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, me);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const [pidText, host] = readFileSync(file, 'utf8').trim().split(' ');
      const pid = Number(pidText);
      const sameHost = host === hostname();
      if (Number.isInteger(pid) && pid > 0 && (!sameHost || (pid !== process.pid && alive(pid)))) {
        throw new Error(`${dir}: another ${what} is running there (pid ${pid}${sameHost ? '' : ` on ${host}`}); wait for it, or remove ${file} if it is gone`);
      }
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  try {
    return fn();
  } finally {
    rmSync(file, { force: true });
    if (created && readdirSync(dir).length === 0) rmdirSync(dir);
  }
}
