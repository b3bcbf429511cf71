#!/usr/bin/env node
// Validate Adaptive Cards with Microsoft's `adaptivecards` renderer library (parse + validateProperties).
// Reads one card, or a JSON array of cards, on stdin; prints a JSON array with one entry per card:
//   {"errors": [{"phase": "Parse"|"Validation", "event": "<ValidationEvent>", "message": "..."}]}
// Exit code 0 when no card has errors, 1 when some card has, 2 on bad input or a missing library.
// The library is found at $PMARK_ADAPTIVECARDS_DIR, else ~/.cache/pmark/npm/node_modules/adaptivecards
// (scripts/install_card_tools.sh). Its `lib/` entry point is ESM with extensionless imports that Node
// cannot load, so the webpack UMD bundle in `dist/` is used; parsing needs no DOM.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");

const dir =
  process.env.PMARK_ADAPTIVECARDS_DIR ||
  path.join(os.homedir(), ".cache", "pmark", "npm", "node_modules", "adaptivecards");
let AC;
try {
  AC = require(path.join(dir, "dist", "adaptivecards.js"));
} catch (err) {
  process.stderr.write(`cannot load adaptivecards from ${dir}: ${err.message}\n`);
  process.exit(2);
}

function validate(source) {
  const errors = [];
  if (!source || source.type !== "AdaptiveCard") {
    errors.push({ phase: "Parse", event: "MissingCardType", message: 'type must be "AdaptiveCard"' });
  }
  const version = AC.Version.parse(source && source.version, new AC.SerializationContext());
  if (!version || !version.isValid) {
    errors.push({ phase: "Parse", event: "UnsupportedCardVersion", message: "missing or bad version" });
  } else if (version.major > 1 || (version.major === 1 && version.minor > 5)) {
    // Teams (desktop and mobile) renders up to 1.5.
    errors.push({ phase: "Parse", event: "UnsupportedCardVersion", message: `version ${version} > 1.5` });
  }
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext(AC.Versions.v1_5);
  card.parse(source, context);
  for (let i = 0; i < context.eventCount; i++) {
    const e = context.getEventAt(i);
    errors.push({ phase: AC.ValidationPhase[e.phase], event: AC.ValidationEvent[e.event], message: e.message });
  }
  for (const e of card.validateProperties().validationEvents) {
    errors.push({ phase: AC.ValidationPhase[e.phase], event: AC.ValidationEvent[e.event], message: e.message });
  }
  return { errors };
}

let input;
try {
  input = JSON.parse(fs.readFileSync(0, "utf8"));
} catch (err) {
  process.stderr.write(`stdin is not JSON: ${err.message}\n`);
  process.exit(2);
}
const results = (Array.isArray(input) ? input : [input]).map(validate);
process.stdout.write(JSON.stringify(results) + "\n");
process.exit(results.some((r) => r.errors.length) ? 1 : 0);
