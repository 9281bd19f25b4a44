'use strict';
// The addon node-gyp built at install (npm ci); a missing build throws here and Linesight falls
// back to sharp's decoder (src/inference/jpeg-decoder.ts says why in its log line).
module.exports = require('./build/Release/jpeg_decode.node');
