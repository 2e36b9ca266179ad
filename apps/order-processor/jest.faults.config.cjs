module.exports = require('../../jest.preset.cjs').faults(__dirname);
