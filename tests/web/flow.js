// flow.js - the staff application in a real headless browser (Debian's
// chromium driven by playwright-core; no browser download): the agency's
// case manager registers a case, records consent and refers to the
// clinic; the clinic's provider accepts, starts and completes; the agency
// sees "completed"; then the case manager fills the casework forms of the
// case's timeline (issue 20) and closes the case. A screenshot of every step goes to OUT; every screen
// is checked with axe-core (no serious or critical violation) and must be
// no wider than the browser's screen (the clinic's is 390 px); every URL
// the browsers asked for is written to OUT/urls.txt for the canary check.
//
// usage: node flow.js AGENCY_URL CLINIC_URL PASSWORD CANARY OUT
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const [agencyUrl, clinicUrl, password, canary, out] = process.argv.slice(2);
if (!out) {
    console.error('usage: node flow.js AGENCY_URL CLINIC_URL PASSWORD CANARY OUT');
    process.exit(2);
}
fs.mkdirSync(out, { recursive: true });
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const urls = [];
const a11y = [];
let step = 0;

function fail(msg) {
    throw new Error(msg);
}

async function shot(page, name) {
    step += 1;
    const file = path.join(out, `${String(step).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`step ${step}: ${name} (${page.url().replace(/^https?:\/\/[^/]+/, '')})`);
}

// axe-core through the DevTools protocol (page.evaluate is not subject to
// the page's Content-Security-Policy, which forbids injected scripts)
async function axe(page, name) {
    await page.evaluate(axeSource);
    const res = await page.evaluate(() => window.axe.run(document, {
        resultTypes: ['violations'],
    }));
    const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    a11y.push({ screen: name, violations: res.violations.map((v) => `${v.impact}:${v.id}`) });
    if (bad.length)
        fail(`axe: ${name}: ${bad.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(' ')})`).join('; ')}`);
    // nothing wider than the screen (the clinic's browser is a phone's)
    const wider = await page.evaluate(() =>
        document.documentElement.scrollWidth - window.innerWidth);
    if (wider > 0)
        fail(`${name}: ${wider} px wider than the screen`);
}

async function login(page, base, name) {
    await page.goto(`${base}/login`);
    await axe(page, 'login');
    await page.fill('input[name=name]', name);
    await page.fill('input[name=password]', password);
    await shot(page, `login-${name}`);
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    if (page.url().endsWith('/login'))
        fail(`login of ${name} failed: ${await page.textContent('main')}`);
}

// Reloads 'page' until 'text' shows in main, at most 'tries' times.
async function until(page, text, tries) {
    for (let i = 0; i < tries; i++) {
        const t = await page.textContent('main');
        if (t.includes(text))
            return;
        await page.waitForTimeout(500);
        await page.reload();
    }
    fail(`"${text}" never showed on ${page.url()}`);
}

// Unfolds form '#form-WHAT' of 'page' (a <details>).
async function unfold(page, what) {
    if (!(await page.$eval(`#form-${what} details`, (d) => d.open)))
        await page.click(`#form-${what} summary`);
}

// Submits form '#form-WHAT' of 'page'; returns the final response.
async function submit(page, what) {
    const [resp] = await Promise.all([page.waitForNavigation(),
        page.click(`#form-${what} button[type=submit]`)]);
    return resp;
}

// Expects the timeline at 'tl' after a form of 'what', with 'text' in main.
async function recorded(page, tl, what, text) {
    const main = await page.textContent('main');
    if (page.url() !== tl || !main.includes(text))
        fail(`${what}: not on the timeline (${page.url()}): ${main.slice(0, 600)}`);
}

// The case manager fills every casework form of the timeline; a refused
// form keeps what was typed; a provider may not see the page; a POST
// without the CSRF token changes nothing.
async function casework(a, c, caseUrl) {
    const tl = `${caseUrl}/timeline`;
    const base = new URL(caseUrl).origin;
    await a.goto(tl);
    // every form unfolded, so that axe sees each field and its label
    for (const what of ['assess', 'plan', 'schedule', 'followup', 'rss', 'rss-skip', 'close'])
        await unfold(a, what);
    await axe(a, 'timeline-forms');
    await a.goto(tl);

    // a risk assessment without its level: 400, the error beside the
    // form, the notes typed kept
    const typed = `${canary} risk notes <i>kept</i>`;
    await unfold(a, 'assess');
    await a.selectOption('#form-assess select[name=type]', 'risk');
    await a.fill('#form-assess textarea[name=notes]', typed);
    let resp = await submit(a, 'assess');
    if (resp.status() !== 400)
        fail(`a risk assessment without level answered ${resp.status()}`);
    const err = await a.textContent('#form-assess .error');
    if (!err.includes('level'))
        fail(`no level error beside the form: ${err}`);
    if (await a.inputValue('#form-assess textarea[name=notes]') !== typed)
        fail('the notes typed were lost');
    if (await a.inputValue('#form-assess select[name=type]') !== 'risk')
        fail('the type chosen was lost');
    await shot(a, 'assessment-refused');
    await unfold(a, 'assess');
    await a.selectOption('#form-assess select[name=level]', 'high');
    await a.check('#form-assess input[name=flags][value=trafficking]');
    await submit(a, 'assess');
    await recorded(a, tl, 'assessment', '["trafficking"]');

    // the plan: goals and one direct item
    await unfold(a, 'plan');
    await a.fill('#form-plan textarea[name=goal_economic]', `${canary} opens a shop`);
    await a.fill('#form-plan textarea[name=own_goals]', `${canary} own words`);
    await a.selectOption('#form-plan select[name=i0_dimension]', 'economic');
    await a.selectOption('#form-plan select[name=i0_assistance]', 'cash');
    await a.fill('#form-plan input[name=i0_amount]', '15000');
    await a.fill('#form-plan input[name=i0_currency]', 'XOF');
    await submit(a, 'plan');
    await recorded(a, tl, 'plan', 'v1');
    await recorded(a, tl, 'plan item', '15000 XOF');

    // the schedule: returned 40 days ago, follow-ups at 1 and 3 months
    const ret = new Date(Date.now() - 40 * 86400e3).toISOString().slice(0, 10);
    await unfold(a, 'schedule');
    await a.fill('#form-schedule input[name=return_date]', ret);
    await a.fill('#form-schedule input[name=months]', '1,3');
    await submit(a, 'schedule');
    await recorded(a, tl, 'schedule', 'Month after return');

    // a follow-up by phone
    await unfold(a, 'followup');
    await a.selectOption('#form-followup select[name=mode]', 'phone');
    await a.selectOption('#form-followup select[name=contact_made]', 'yes');
    await a.selectOption('#form-followup select[name=satisfaction]', '4');
    await a.check('#form-followup input[name=services_received][value=tvet]');
    await a.fill('#form-followup textarea[name=notes]', `${canary} follow-up notes`);
    await submit(a, 'followup');
    await recorded(a, tl, 'follow-up', 'Follow-ups recorded');

    // a baseline survey: every item of the daemon's table answered
    await unfold(a, 'rss');
    const items = await a.$$eval('#form-rss select[name^=a_]', (ss) =>
        ss.map((s) => [s.name, [...s.options].map((o) => o.value)]));
    if (items.length < 10)
        fail(`the survey form has ${items.length} items`);
    for (const [name, values] of items)
        await a.selectOption(`#form-rss select[name=${name}]`, 
            values.includes('4') ? '4' : values.includes('yes') ? 'yes' : values[1]);
    await submit(a, 'rss');
    await recorded(a, tl, 'survey', 'Composite');
    await shot(a, 'timeline-recorded');

    // closing without an endline survey: refused, 409
    await unfold(a, 'close');
    await a.selectOption('#form-close select[name=reason]', 'plan-completed');
    resp = await submit(a, 'close');
    if (resp.status() !== 409 || !(await a.textContent('#form-close .error')).includes('endline'))
        fail(`close without endline answered ${resp.status()}`);

    // a POST without the CSRF token: 403, nothing recorded
    resp = await a.request.post(tl, {
        form: { do: 'rss-skip', reason: 'moved-away' },
        headers: { Origin: base }, maxRedirects: 0,
    });
    if (resp.status() !== 403 || !(await resp.text()).includes('form has expired'))
        fail(`a POST without CSRF token answered ${resp.status()}`);
    await a.goto(tl);
    if ((await a.textContent('main')).includes('No endline survey: moved away'))
        fail('the CSRF-less POST was recorded');

    // a provider may not see a case's timeline
    resp = await c.goto(tl.replace(base, new URL(c.url()).origin));
    if (resp.status() !== 403)
        fail(`a provider got ${resp.status()} for a timeline`);

    // why no endline survey, then close with the handbook reason
    await unfold(a, 'rss-skip');
    await a.selectOption('#form-rss-skip select[name=reason]', 'lost-contact');
    await submit(a, 'rss-skip');
    await recorded(a, tl, 'endline skipped', 'No endline survey: contact lost');
    await unfold(a, 'close');
    await a.selectOption('#form-close select[name=reason]', 'plan-completed');
    await submit(a, 'close');
    if ((await a.textContent('.case-status')) !== 'closed')
        fail(`the case did not close: ${await a.textContent('main')}`);
    if (await a.$('#form-assess'))
        fail('a closed case still shows the forms');
}

async function main() {
    const browser = await chromium.launch({
        executablePath: process.env.PL_CHROMIUM || '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
            '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync'],
    });
    try {
        const agency = await browser.newContext({ viewport: { width: 900, height: 900 } });
        const clinic = await browser.newContext({ viewport: { width: 390, height: 844 } });
        for (const ctx of [agency, clinic]) {
            ctx.on('request', (r) => urls.push(r.url()));
            ctx.on('page', (p) => p.on('dialog', (d) => {
                // a note's <script> must never run
                fail(`a dialog opened: ${d.message()}`);
            }));
        }

        // ---- agency: case manager
        const a = await agency.newPage();
        await login(a, agencyUrl, 'amina');
        await shot(a, 'cases');
        await axe(a, 'cases');
        await a.fill('input[name=given]', canary);
        await a.fill('input[name=family]', 'Diallo');
        await a.fill('input[name=birth]', '1991-04-12');
        await a.selectOption('select[name=sex]', 'female');
        await a.fill('input[name=phone]', '+221770000001');
        await a.fill('input[name=language]', 'wo');
        await a.check('input[name=needs][value=economic]');
        await Promise.all([a.waitForNavigation(), a.click('form[action="/cases/new"] button')]);
        if (!/\/case\/[0-9a-f]+$/.test(a.url()))
            fail(`case add did not lead to the case page: ${a.url()} ${await a.textContent('main')}`);
        const caseUrl = a.url();
        await shot(a, 'case-registered');
        await axe(a, 'case');

        // search by POST: the canary must not go into the URL
        await a.goto(`${agencyUrl}/cases`);
        await a.fill('input[name=q]', canary);
        await Promise.all([a.waitForNavigation(), a.click('form[action="/cases/search"] button')]);
        if (!(await a.textContent('main')).includes(canary))
            fail('search did not find the case');
        await shot(a, 'case-found');
        await a.goto(caseUrl);

        // consent
        await a.check('input[name=sectors][value=health]');
        await a.selectOption('select[name=given_by]', 'returnee');
        await a.fill('input[name=expires]', '2030-12-31');
        await Promise.all([a.waitForNavigation(), a.click('form:has(input[name=do][value=consent]) button[type=submit]')]);
        if (!(await a.textContent('main')).match(/valid|valable/))
            fail(`consent not shown: ${await a.textContent('main')}`);
        await shot(a, 'consent-recorded');

        // refer: recipient from the directory, by sector
        await a.goto(`${caseUrl}?sector=health&region=dakar`);
        const opts = await a.$$eval('select[name=to] option', (os) => os.map((o) => o.value));
        if (!opts.includes('sn/clinic'))
            fail(`the clinic is not among the recipients: ${opts}`);
        await a.selectOption('select[name=to]', 'sn/clinic');
        await a.fill('input[name=service]', 'primary-care');
        await a.selectOption('select[name=priority]', 'urgent');
        await a.fill('form:has(input[name=do][value=refer]) textarea[name=note]',
            'Needs follow-up <script>alert(1)</script> & "quotes"');
        await shot(a, 'refer-form');
        await Promise.all([a.waitForNavigation(), a.click('form:has(input[name=do][value=refer]) button[type=submit]')]);
        if (!/\/referral\/[0-9a-f]+$/.test(a.url()))
            fail(`refer did not lead to the referral page: ${a.url()} ${await a.textContent('main')}`);
        const refId = a.url().split('/').pop();
        await shot(a, 'referred');
        await axe(a, 'referral-out');

        // ---- clinic: provider
        const c = await clinic.newPage();
        await login(c, clinicUrl, 'fatou');
        await until(c, 'primary-care', 60);
        await shot(c, 'incoming');
        await axe(c, 'incoming');
        await c.goto(`${clinicUrl}/referral/${refId}`);
        const note = await c.textContent('dl.facts');
        if (!note.includes('<script>alert(1)</script>'))
            fail(`the note is not shown as text: ${note}`);
        if ((await c.$$('main script')).length)
            fail('the note became a script element');
        await shot(c, 'referral-received');
        await axe(c, 'referral-in');
        for (const ev of ['accept', 'start', 'complete']) {
            if (ev === 'complete')
                await c.selectOption('form:has(input[value=complete]) select[name=outcome]', 'successful');
            await Promise.all([c.waitForNavigation(),
                c.click(`form:has(input[name=event][value=${ev}]) button[type=submit]`)]);
            await shot(c, `after-${ev}`);
        }
        const st = await c.textContent('p.big');
        if (!st.match(/completed|terminée/))
            fail(`the clinic does not show completed: ${st}`);

        // ---- agency sees completed
        await a.goto(`${agencyUrl}/out`);
        await until(a, 'completed', 60);
        await shot(a, 'outgoing-completed');
        await axe(a, 'outgoing');

        // ---- casework entry forms on the case's timeline (issue 20)
        await casework(a, c, caseUrl);

        // ---- the other roles' screens: supervisor, admin, notifications
        await a.goto(`${agencyUrl}/notifications`);
        await shot(a, 'notifications');
        await axe(a, 'notifications');
        const s = await browser.newContext({ viewport: { width: 900, height: 700 } });
        s.on('request', (r) => urls.push(r.url()));
        const sp = await s.newPage();
        await login(sp, agencyUrl, 'moussa');
        await shot(sp, 'overrides');
        await axe(sp, 'overrides');
        await sp.goto(`${agencyUrl}/audit`);
        await shot(sp, 'audit');
        await axe(sp, 'audit');
        await login(sp, agencyUrl, 'root-admin');
        await sp.goto(`${agencyUrl}/staff`);
        await shot(sp, 'staff');
        await axe(sp, 'staff');
        await s.close();

        // nothing in browser storage
        for (const [p, base] of [[a, agencyUrl], [c, clinicUrl]]) {
            const n = await p.evaluate(() => localStorage.length + sessionStorage.length);
            if (n)
                fail(`browser storage used on ${base}`);
            const cookies = await p.context().cookies();
            for (const k of cookies)
                if (!k.httpOnly || k.sameSite !== 'Strict')
                    fail(`cookie ${k.name} is not HttpOnly + SameSite=Strict`);
        }
    } finally {
        fs.writeFileSync(path.join(out, 'urls.txt'), urls.join('\n') + '\n');
        fs.writeFileSync(path.join(out, 'axe.json'), JSON.stringify(a11y, null, 1));
        await browser.close();
    }
    console.log(`flow: ok, ${step} screenshots, ${a11y.length} axe checks`);
}

main().catch((e) => {
    console.error(`flow: FAIL: ${e.message}`);
    process.exit(1);
});
