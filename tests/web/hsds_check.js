// hsds_check.js FILE... - Passerelle's own checks of Open Referral HSDS
// 3.0 `service` objects (each file: a JSON array of them, or a page with
// "contents"). Written from the HSDS 3.0 specification's
// schema/compiled/service.json (github.com/openreferral/specification,
// branch 3.0): the members each object requires, the types of the members
// Passerelle writes, the uuid / uri / email / date-time formats and the
// enumerations, for the service and what it nests (organization,
// service_at_locations, location, addresses, schedules, languages,
// attributes and their taxonomy_term, contacts, phones). The schema file
// is not copied here: these are rules read from it. First a known-bad
// service must be refused. Exits 1 on any fault.
'use strict';
const fs = require('fs');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"]+$/;
const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
const DATETIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

// kind: {required, uuid, uri, email, datetime, number, enums, nested}
// (nested: member -> [kind, is array])
const K = {
    service: {
        required: ['id', 'name', 'status'],
        uuid: ['id', 'organization_id', 'program_id'],
        uri: ['url'], email: ['email', 'assurer_email'],
        datetime: ['last_modified'], number: ['minimum_age', 'maximum_age'],
        enums: { status: ['active', 'inactive', 'defunct', 'temporarily closed'] },
        nested: { organization: ['organization', false],
                  service_at_locations: ['service_at_location', true],
                  languages: ['language', true], schedules: ['schedule', true],
                  attributes: ['attribute', true], contacts: ['contact', true],
                  phones: ['phone', true] },
    },
    organization: {
        required: ['id', 'name', 'description'],
        uuid: ['id', 'parent_organization_id'], uri: ['website', 'uri'],
        email: ['email'], number: ['year_incorporated'],
        nested: { contacts: ['contact', true], phones: ['phone', true],
                  attributes: ['attribute', true] },
    },
    service_at_location: {
        required: ['id'], uuid: ['id', 'service_id', 'location_id'],
        nested: { location: ['location', false], schedules: ['schedule', true],
                  contacts: ['contact', true], phones: ['phone', true],
                  attributes: ['attribute', true] },
    },
    location: {
        required: ['id', 'location_type'], uuid: ['id', 'organization_id'],
        uri: ['url'], number: ['latitude', 'longitude'],
        enums: { location_type: ['physical', 'postal', 'virtual'] },
        nested: { addresses: ['address', true], languages: ['language', true],
                  schedules: ['schedule', true], phones: ['phone', true] },
    },
    address: {
        required: ['id', 'address_1', 'city', 'state_province', 'postal_code',
                   'country', 'address_type'],
        uuid: ['id', 'location_id'],
        enums: { address_type: ['physical', 'postal', 'virtual'] },
    },
    schedule: {
        required: ['id'],
        uuid: ['id', 'service_id', 'location_id', 'service_at_location_id'],
        uri: ['schedule_link'], number: ['timezone', 'count', 'interval'],
        enums: { freq: ['WEEKLY', 'MONTHLY'],
                 wkst: ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] },
    },
    language: { required: ['id'], uuid: ['id', 'service_id', 'location_id', 'phone_id'] },
    attribute: {
        required: ['id'], uuid: ['id', 'link_id', 'taxonomy_term_id'],
        nested: { taxonomy_term: ['taxonomy_term', false] },
    },
    taxonomy_term: {
        required: ['id', 'name', 'description'],
        uuid: ['id', 'parent_id', 'taxonomy_id'], uri: ['term_uri'],
    },
    contact: {
        required: ['id'],
        uuid: ['id', 'organization_id', 'service_id', 'service_at_location_id',
               'location_id'],
        email: ['email'], nested: { phones: ['phone', true] },
    },
    phone: {
        required: ['id', 'number'],
        uuid: ['id', 'location_id', 'service_id', 'organization_id', 'contact_id',
               'service_at_location_id'],
        number: ['extension'],
    },
};

function check(o, kind, path, errs) {
    const k = K[kind];
    if (typeof o !== 'object' || o === null || Array.isArray(o)) {
        errs.push(`${path}: must be an object`);
        return;
    }
    for (const m of k.required)
        if (o[m] === undefined || o[m] === null)
            errs.push(`${path}.${m}: required`);
    const fmt = (list, re, what) => (list || []).forEach((m) => {
        if (o[m] !== undefined && (typeof o[m] !== 'string' || !re.test(o[m])))
            errs.push(`${path}.${m}: not ${what}: ${JSON.stringify(o[m])}`);
    });
    fmt(k.uuid, UUID, 'a uuid');
    fmt(k.uri, URI, 'a uri');
    fmt(k.email, EMAIL, 'an email');
    fmt(k.datetime, DATETIME, 'a date-time');
    for (const m of k.number || [])
        if (o[m] !== undefined && typeof o[m] !== 'number')
            errs.push(`${path}.${m}: not a number`);
    for (const [m, vals] of Object.entries(k.enums || {}))
        if (o[m] !== undefined && !vals.includes(o[m]))
            errs.push(`${path}.${m}: ${JSON.stringify(o[m])} not one of ${vals}`);
    for (const [m, v] of Object.entries(o))
        if (!(k.nested && k.nested[m]) && typeof v === 'object' && v !== null &&
            !['metadata', 'funding', 'cost_options', 'program',
              'required_documents', 'service_areas', 'accessibility',
              'taxonomy_detail', 'organization_identifiers', 'locations',
              'programs'].includes(m))
            errs.push(`${path}.${m}: unexpected object or array`);
        else if (!(k.nested && k.nested[m]) && typeof v !== 'object' &&
                 !['string', 'number', 'boolean'].includes(typeof v))
            errs.push(`${path}.${m}: unexpected type`);
    for (const [m, [sub, isArray]] of Object.entries(k.nested || {})) {
        if (o[m] === undefined)
            continue;
        if (isArray !== Array.isArray(o[m])) {
            errs.push(`${path}.${m}: must be ${isArray ? 'an array' : 'an object'}`);
            continue;
        }
        (isArray ? o[m] : [o[m]]).forEach((it, i) =>
            check(it, sub, isArray ? `${path}.${m}[${i}]` : `${path}.${m}`, errs));
    }
}

function services(doc) {
    return Array.isArray(doc) ? doc : doc.contents;
}

const selftest = [];
check({ id: 'x', status: 'open', email: 'nope',
        organization: { id: '00000000-0000-8000-8000-000000000000' } },
      'service', 'selftest', selftest);
if (selftest.length < 5) {
    console.error('hsds_check: a bad service was taken: ' + selftest);
    process.exit(1);
}
let faults = 0, n = 0;
for (const file of process.argv.slice(2)) {
    const list = services(JSON.parse(fs.readFileSync(file, 'utf8')));
    const errs = [];
    if (!Array.isArray(list) || list.length === 0)
        errs.push(`${file}: no services`);
    else
        list.forEach((s, i) => {
            n++;
            check(s, 'service', `[${i}]`, errs);
            if (!s.organization || !Array.isArray(s.service_at_locations) ||
                !s.service_at_locations.length)
                errs.push(`[${i}]: organization and service_at_locations must be nested`);
        });
    errs.forEach((e) => console.error(`${file}: ${e}`));
    faults += errs.length;
    if (!errs.length)
        console.log(`${file}: ${list.length} services meet HSDS 3.0's service schema`);
}
console.log(`hsds_check: ${n} services, ${faults} faults`);
process.exit(faults ? 1 : 0);
