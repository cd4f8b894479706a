import fs from 'node:fs';
import { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.History;
const { History } = temporal.api.history.v1;

/**
 * History files as protobufjs' own JSON object form (int64 and bytes as strings, enums by name).
 * Why not the SDK's historyToJSON / historyFromJSON (the `temporal workflow show -o json` format):
 * in this install @temporalio/common and @temporalio/proto resolve different protobufjs copies and
 * those helpers throw "type must be a Type". toObject/fromObject round-trip losslessly instead.
 */
export function writeHistory(file: string, history: temporal.api.history.v1.IHistory): void {
  const object = History.toObject(History.fromObject(history), {
    longs: String,
    enums: String,
    bytes: String,
  });
  fs.writeFileSync(file, JSON.stringify(object, null, 1) + '\n');
}

export function readHistory(file: string): History {
  return History.fromObject(JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>);
}

/** The workflow type and id a history belongs to, from its first event. */
export function describeHistory(history: History): { workflowType: string; eventCount: number } {
  const started = history.events[0]?.workflowExecutionStartedEventAttributes;
  return { workflowType: started?.workflowType?.name ?? 'unknown', eventCount: history.events.length };
}
