// A jest reporter that writes the run's counts to dist/test-results/<project>.<kind>.json,
// so `npm test` can print one closing line for all projects.
const fs = require('node:fs');
const path = require('node:path');

class ResultsReporter {
  constructor(globalConfig, options) {
    this.file = path.join(
      __dirname,
      '..',
      '..',
      'dist',
      'test-results',
      `${options.project}.${options.kind}.json`,
    );
  }

  onRunComplete(_contexts, results) {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const { numPassedTests, numFailedTests, numPendingTests, numTodoTests, numTotalTests } = results;
    fs.writeFileSync(
      this.file,
      JSON.stringify({ numPassedTests, numFailedTests, numPendingTests, numTodoTests, numTotalTests }),
    );
  }
}

module.exports = ResultsReporter;
