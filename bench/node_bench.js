// The official Node SDK (@gohighlevel/api-client, pinned 3.1.0), one workload per process
// (bench/run.lua runs it).
//
//   node bench/node_bench.js <workload> <base_url> <n> [concurrency]
//
//   w1  n sequential contacts.getContact({contactId})
//   w2  a plain loop over contacts.searchContactsAdvanced({locationId, pageLimit: 100, ...}):
//       page 1, then the last contact's searchAfter, until a short page or `total`
//   w3  n getContact calls through Promise.all over a pool of <concurrency> workers
//   w4  n sequential getContact with rateLimitRetry: true, against a rate limit
//   w5  "agency": n locations, <per> locations.getLocationTags({locationId}) each (location by
//       location), through Promise.all over a pool of <concurrency> workers, rateLimitRetry: true
//         node node_bench.js w5 <base_url> <locations> <concurrency> <per>
//
// The SDK reads its base URL from the static HighLevel.BASE_URL when a client is
// constructed (dist/lib/HighLevel.js: axios.create({baseURL: HighLevel.BASE_URL})), so it is
// set before `new HighLevel(...)`. The package is found in build/bench/node (NODE_PATH or
// the default below). Prints one line: ok= failed= items= requests= elapsed_ms=.
'use strict';
const path = require('path');

const sdkDir = process.env.GHL_BENCH_NODE_MODULES ||
  path.join(__dirname, '..', 'build', 'bench', 'node', 'node_modules');
const { HighLevel } = require(path.join(sdkDir, '@gohighlevel', 'api-client'));

const TOKEN = 'pit-bench-00000000-0000-4000-8000-000000000000';
const LOCATION_ID = 'LocBench000000000001';

const [workload, baseUrl, nArg, concArg, perArg] = process.argv.slice(2);
const n = Number(nArg);
const concurrency = Number(concArg || 20);
const perLocation = Number(perArg || 20);
if (!workload || !baseUrl || !(n > 0)) {
  process.stderr.write('usage: node_bench.js w1|w2|w3|w4 <base_url> <n> [concurrency]\n');
  process.exit(2);
}

HighLevel.BASE_URL = baseUrl; // static; read by the constructor
const ghl = new HighLevel({
  privateIntegrationToken: TOKEN,
  logLevel: 'none', // no logging noise (its default, warn, logs every 429 retry)
  rateLimitRetry: workload === 'w4' || workload === 'w5' ? true : undefined,
});

const idOf = (i) => 'Ct' + String(i).padStart(18, '0');
const locationOf = (i) => 'LocAgency' + String(i).padStart(11, '0');
let ok = 0, failed = 0, items = 0, requests = 0;
function complain(what, err) {
  failed++;
  if (failed <= 3) process.stderr.write(`node_bench: ${what}: ${err && (err.message || err)}\n`);
}

async function getOne(i) {
  const id = idOf(i);
  try {
    const body = await ghl.contacts.getContact({ contactId: id });
    if (body && body.contact && body.contact.id === id) ok++;
    else complain('get ' + id, 'wrong contact');
  } catch (err) {
    complain('get ' + id, err);
  }
}

async function main() {
  const t0 = performance.now();
  if (workload === 'w1' || workload === 'w4') {
    for (let i = 1; i <= n; i++) await getOne(i);
    items = ok; requests = n;
  } else if (workload === 'w2') {
    let body = { locationId: LOCATION_ID, pageLimit: 100, page: 1 };
    for (;;) {
      let page;
      requests++;
      try {
        page = await ghl.contacts.searchContactsAdvanced(body);
      } catch (err) {
        complain('search', err);
        break;
      }
      ok++;
      const contacts = page.contacts || [];
      for (const c of contacts) {
        items++;
        if (typeof c.id !== 'string') complain('contact', 'no id');
      }
      if (contacts.length < 100 || (typeof page.total === 'number' && items >= page.total)) break;
      const last = contacts[contacts.length - 1];
      if (!Array.isArray(last.searchAfter)) { complain('search', 'the last contact has no searchAfter'); break; }
      body = { locationId: LOCATION_ID, pageLimit: 100, searchAfter: last.searchAfter };
    }
    if (!failed && items !== n) complain('walk', `saw ${items} contacts, expected ${n}`);
  } else if (workload === 'w3') {
    let next = 1;
    const worker = async () => {
      while (next <= n) await getOne(next++);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
    items = ok; requests = n;
  } else if (workload === 'w5') {
    const calls = [];
    for (let l = 1; l <= n; l++) for (let j = 0; j < perLocation; j++) calls.push(locationOf(l));
    let next = 0;
    const worker = async () => {
      while (next < calls.length) {
        const loc = calls[next++];
        try {
          const body = await ghl.locations.getLocationTags({ locationId: loc });
          if (body && Array.isArray(body.tags) && body.tags[0] && body.tags[0].locationId === loc) ok++;
          else complain('get tags ' + loc, 'wrong tags');
        } catch (err) {
          complain('get tags ' + loc, err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, calls.length) }, worker));
    items = ok; requests = calls.length;
  } else {
    process.stderr.write(`node_bench: unknown workload ${workload}\n`);
    process.exit(2);
  }
  const elapsed = performance.now() - t0;
  console.log(`ok=${ok} failed=${failed} items=${items} requests=${requests} elapsed_ms=${elapsed.toFixed(1)}`);
  // the SDK keeps no timers, but sockets of the keep-alive agent would hold the loop open for a while
  process.exit(failed > 0 && workload !== 'w4' && workload !== 'w5' ? 1 : 0);
}

main().catch((err) => {
  process.stderr.write(`node_bench: ${err && err.stack || err}\n`);
  process.exit(2);
});
