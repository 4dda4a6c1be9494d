#!/usr/bin/env node
// The CLI runs the compiled sources in dist/ (`npm run build`; `npm test` and `npm run demo` build first).
let main;
try {
  ({ main } = await import('../dist/src/cli/main.js'));
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.js')) {
    console.error('envoy-bandit: dist/ is missing; run `npm run build` first (npm test and npm run demo do it for you)');
    process.exit(2);
  }
  throw err;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(typeof code === 'number' ? code : 0),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
