import { loadPvSet, scan } from 'lmsanitator';

// Detection on a Hugging Face model directory: fuzz loops until a PV is
// found (backdoored) or the loop budget runs out (clean).
const modelDir = process.argv[2] ?? 'path/to/model';
const result = scan(modelDir, { loops: 5, sentenceCount: 256, force: true });

console.log(`${result.verdict}, score ${result.driver.score.toFixed(3)} after ${result.driver.loops.length} loops`);
console.log(`report: ${result.outputs.reportHtml}`);
if (result.verdict === 'backdoored') {
  // The PV set is what the inference guard loads.
  const set = loadPvSet(result.outputs.pvset);
  console.log(`${set.pvs.length} PV(s) of width ${set.hidden}`);
}
