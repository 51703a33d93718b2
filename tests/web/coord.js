// coord.js - the coordination dashboard in a real headless browser
// (Debian's chromium driven by playwright-core, issue 15): a coordinator
// logs in on the coordination node's passerelle-web and sees the figures
// (the charts, a suppressed "<5", the reporting nodes); the page passes
// axe-core (no serious or critical violation) and is no wider than a
// 390 px phone's screen; a provider account of the
// same node is refused the dashboard (403). Screenshots go to OUT
// (OUT/coordination.png is the README's picture).
//
// usage: node coord.js COORD_URL PASSWORD COORDINATOR PROVIDER OUT
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const [url, password, coordinator, provider, out] = process.argv.slice(2);
if (!out) {
    console.error('usage: node coord.js COORD_URL PASSWORD COORDINATOR PROVIDER OUT');
    process.exit(2);
}
fs.mkdirSync(out, { recursive: true });
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

function fail(msg) {
    throw new Error(msg);
}

async function login(page, name) {
    await page.goto(`${url}/login`);
    await page.fill('input[name=name]', name);
    await page.fill('input[name=password]', password);
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    if (page.url().endsWith('/login'))
        fail(`login of ${name} failed: ${await page.textContent('main')}`);
}

async function main() {
    const browser = await chromium.launch({
        executablePath: process.env.PL_CHROMIUM || '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
            '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync'],
    });
    try {
        const ctx = await browser.newContext({ viewport: { width: 1000, height: 900 } });
        const p = await ctx.newPage();
        p.on('dialog', (d) => fail(`a dialog opened: ${d.message()}`));
        await login(p, coordinator);
        if (!p.url().endsWith('/coordination'))
            fail(`a coordinator lands on ${p.url()}, not /coordination`);
        const main = await p.textContent('main');
        for (const want of ['<5', 'sn/agency', 'sn/clinic'])
            if (!main.includes(want))
                fail(`the dashboard does not show "${want}"`);
        if ((await p.locator('svg.chart').count()) < 3)
            fail('the dashboard has fewer than 3 charts');
        await p.screenshot({ path: path.join(out, 'coordination.png'), fullPage: true });
        await p.evaluate(axeSource);
        const res = await p.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
        const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
        if (bad.length)
            fail(`axe: ${bad.map((v) => `${v.impact} ${v.id}: ${v.help}`).join('; ')}`);
        // and on a phone: nothing wider than its screen
        await p.setViewportSize({ width: 390, height: 844 });
        const wider = await p.evaluate(() =>
            document.documentElement.scrollWidth - window.innerWidth);
        // what sticks out, for the message
        const over = await p.evaluate(() => [...document.querySelectorAll('main *')]
            .filter((e) => e.getBoundingClientRect().right > window.innerWidth)
            .slice(0, 3).map((e) => `${e.tagName.toLowerCase()}.${e.className}`)
            .join(', '));
        await p.screenshot({ path: path.join(out, 'coordination-390.png'), fullPage: true });
        if (wider > 0)
            fail(`the dashboard is ${wider} px wider than a 390 px screen (${over})`);

        const ctx2 = await browser.newContext({ viewport: { width: 390, height: 844 } });
        const q = await ctx2.newPage();
        await login(q, provider);
        const r = await q.goto(`${url}/coordination`);
        if (r.status() !== 403)
            fail(`a provider got /coordination with status ${r.status()}`);
        if ((await q.textContent('main')).includes('sn/agency'))
            fail('a provider saw the figures');
        await q.screenshot({ path: path.join(out, 'provider-refused.png'), fullPage: true });
    } finally {
        await browser.close();
    }
    console.log('coord: ok');
}

main().catch((e) => {
    console.error(`coord: FAIL: ${e.message}`);
    process.exit(1);
});
