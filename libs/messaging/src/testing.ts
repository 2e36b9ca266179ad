// Test helpers of the messaging runtime (`@tideline/messaging/testing`), for other projects' tests only.
export {
  BROKER_MAX_MESSAGE_BYTES,
  ODD_HEADER,
  ODD_RUN_HEADER,
  ODD_SHAPES,
  consoleProduce,
  writeOddRecords,
  type OddShape,
} from './test-support/odd-records';
