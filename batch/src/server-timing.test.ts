import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseServerTiming, predictStageTimings } from './server-timing.js';

test('parseServerTiming reads names, dur and desc, quoted values with commas, and skips junk', () => {
  assert.deepEqual(parseServerTiming('decode;dur=1.25, inference;dur=30;desc="a, b; c", ;dur=3, bad name;dur=1, miss;dur=x'), [
    { name: 'decode', dur: 1.25 },
    { name: 'inference', dur: 30, desc: 'a, b; c' },
    { name: 'miss' },
  ]);
  assert.deepEqual(parseServerTiming(['a;dur=1', 'b;desc=hi']), [{ name: 'a', dur: 1 }, { name: 'b', desc: 'hi' }]);
  assert.deepEqual(parseServerTiming(undefined), []);
  assert.deepEqual(parseServerTiming(''), []);
});

test('predictStageTimings maps predict\'s stages and finds the batch size in its usual spellings', () => {
  const header = 'decode;dur=1.5, preprocess;dur=2, inference;dur=30.25, postprocess;dur=3, encode;dur=4.5';
  const stages = {
    predict_decode_ms: 1.5,
    predict_preprocess_ms: 2,
    predict_inference_ms: 30.25,
    predict_postprocess_ms: 3,
    predict_encode_ms: 4.5,
  };
  assert.deepEqual(predictStageTimings(header), stages);
  assert.deepEqual(predictStageTimings(`${header}, batch;desc=4`), { ...stages, predict_batch_size: 4 });
  assert.deepEqual(predictStageTimings(`${header}, batch;desc="8"`).predict_batch_size, 8);
  assert.deepEqual(predictStageTimings('batch_size;dur=3').predict_batch_size, 3);
  assert.deepEqual(predictStageTimings('inference;dur=9;desc="batch=5"'), { predict_inference_ms: 9, predict_batch_size: 5 });
  assert.deepEqual(predictStageTimings('batch;desc=many, batch;desc=0, total;dur=99, inference;dur=-1'), {}, 'nonsense is left out');
});
