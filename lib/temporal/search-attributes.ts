import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Let support filter a district's runs in the Temporal UI: `DistrictId = "..." AND SyncTrigger = "schedule"`. */
export const DistrictIdKey = defineSearchAttributeKey('DistrictId', SearchAttributeType.KEYWORD);
export const SyncTriggerKey = defineSearchAttributeKey('SyncTrigger', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [DistrictIdKey, SyncTriggerKey];
