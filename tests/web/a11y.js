// a11y.js - axe-core on pages a logged-in staff member sees, in Debian's
// chromium through playwright-core (no browser download): each URL is
// opened with the session cookie, at a phone's width and at a desk's,
// and must have no serious or critical violation and nothing wider than
// the screen; a full-page screenshot of each goes to OUT. Used by
// test_web_handover.sh for the handover screens and test_services.sh for
// the services pages (flow.js and coord.js check the others).
//
// usage: node a11y.js COOKIE_NAME=VALUE OUT URL...
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const [cookie, out, ...pages] = process.argv.slice(2);
if (!cookie || !cookie.includes('=') || !out || !pages.length) {
    console.error('usage: node a11y.js COOKIE_NAME=VALUE OUT URL...');
    process.exit(2);
}
fs.mkdirSync(out, { recursive: true });
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

async function main() {
    const browser = await chromium.launch({
        executablePath: process.env.PL_CHROMIUM || '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
            '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync'],
    });
    let bad = 0;
    try {
        for (const width of [390, 1000]) {
            const ctx = await browser.newContext({ viewport: { width, height: 844 } });
            const eq = cookie.indexOf('=');
            await ctx.addCookies(pages.map((u) => ({
                name: cookie.slice(0, eq), value: cookie.slice(eq + 1), url: u,
            })));
            const page = await ctx.newPage();
            page.on('dialog', (d) => {
                console.error(`a dialog opened: ${d.message()}`);
                bad++;
            });
            for (const [i, u] of pages.entries()) {
                const resp = await page.goto(u);
                if (!resp || resp.status() !== 200 || page.url().endsWith('/login')) {
                    console.error(`${u}: status ${resp && resp.status()} at ${page.url()}`);
                    bad++;
                    continue;
                }
                // every folded part open, so that axe sees each field
                await page.evaluate(() => document.querySelectorAll('details')
                    .forEach((d) => { d.open = true; }));
                await page.evaluate(axeSource);
                const res = await page.evaluate(() => window.axe.run(document, {
                    resultTypes: ['violations'],
                }));
                const serious = res.violations.filter(
                    (v) => v.impact === 'serious' || v.impact === 'critical');
                for (const v of serious) {
                    console.error(`${u} (${width} px): ${v.impact} ${v.id}: ${v.help} `
                        + `(${v.nodes.map((n) => n.target).join(' ')})`);
                    bad++;
                }
                // nothing wider than the screen: a phone must not scroll
                // sideways to read a row
                const wider = await page.evaluate(() =>
                    document.documentElement.scrollWidth - window.innerWidth);
                if (wider > 0) {
                    console.error(`${u} (${width} px): ${wider} px wider than the screen`);
                    bad++;
                }
                await page.screenshot({
                    path: path.join(out, `${String(i + 1).padStart(2, '0')}-${width}.png`),
                    fullPage: true,
                });
                console.log(`a11y: ${u.replace(/^https?:\/\/[^/]+/, '')} at ${width} px: `
                    + `${serious.length} serious, ${res.violations.length} in all`);
            }
            await ctx.close();
        }
    } finally {
        await browser.close();
    }
    process.exit(bad ? 1 : 0);
}

main().catch((e) => {
    console.error(e.stack || String(e));
    process.exit(1);
});
