#!/usr/bin/env node
/**
 * Every kernel of the native addon is launched with programmatic dependent launch (native/cuda/launch.cuh), which is
 * safe only if the kernel waits before it touches memory: each __global__ function's body must begin with
 * dependentLaunchPrologue(), and no kernel may be launched with <<<>>> (launchKernel() only). Exits 1 naming the
 * offending kernel or launch.
 */
const fs = require('fs');
const path = require('path');

const dir = path.join(__dirname, '..', 'native', 'cuda');
const problems = [];
let kernels = 0;
for (const name of fs.readdirSync(dir).filter((f) => /\.(cu|cuh)$/.test(f))) {
  const source = fs.readFileSync(path.join(dir, name), 'utf8').replace(/\/\/[^\n]*/g, '');
  const line = (index) => source.slice(0, index).split('\n').length;
  for (const m of source.matchAll(/<<</g))
    problems.push(`${name}:${line(m.index)}: a <<<>>> launch (use launchKernel)`);
  for (const m of source.matchAll(/__global__/g)) {
    let depth = 0;
    let i = m.index;
    for (; i < source.length; i++) {
      const c = source[i];
      if (c === '(') depth++;
      else if (c === ')') depth--;
      else if (depth === 0 && (c === '{' || c === ';')) break;
    }
    if (source[i] !== '{') continue; // a declaration
    kernels++;
    if (!/^\s*dependentLaunchPrologue\(\);/.test(source.slice(i + 1))) {
      const signature = source.slice(m.index, i).replace(/\s+/g, ' ').slice(0, 100);
      problems.push(`${name}:${line(m.index)}: kernel without dependentLaunchPrologue() first: ${signature}`);
    }
  }
}
if (problems.length > 0) {
  console.error(`check-native-launches: ${problems.length} problem(s):\n${problems.join('\n')}`);
  process.exit(1);
}
console.log(`check-native-launches: ${kernels} kernels begin with dependentLaunchPrologue(), no <<<>>> launches`);
