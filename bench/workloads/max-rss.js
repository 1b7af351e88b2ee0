// Preloaded into a process the bench measures: its peak resident set size, in bytes, to
// $MAX_RSS_FILE at exit.
const fs = require('node:fs');
process.on('exit', () => fs.writeFileSync(process.env.MAX_RSS_FILE, String(process.resourceUsage().maxRSS * 1024)));
