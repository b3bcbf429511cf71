"""Hand-over of PMark's notification events to the plant's CMMS (webhook, SAP PM)."""
