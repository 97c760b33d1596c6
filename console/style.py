"""The console's stylesheet, served at /static/console.css (the only style the pages use: the
Content-Security-Policy allows no inline style). Kept as a module so it ships with the code."""

CSS = """
:root { color-scheme: light; --ink: #1d232a; --muted: #5b6570; --line: #d5dbe1;
  --accent: #1f5fa8; --bad: #a32020; --bg: #f7f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--ink); background: var(--bg); }
header { display: flex; gap: 1.2em; align-items: center; padding: .6em 1.2em;
  background: #fff; border-bottom: 1px solid var(--line); }
header .brand { font-weight: 600; }
header nav { display: flex; gap: 1em; flex: 1; }
header nav a { color: var(--accent); text-decoration: none; }
header .who { color: var(--muted); }
header form { margin: 0; }
main { max-width: 1100px; margin: 1.2em auto; padding: 0 1.2em; }
h1 { font-size: 1.4em; margin: .2em 0 .8em; }
h2 { font-size: 1.1em; margin: 1.4em 0 .5em; }
table { border-collapse: collapse; width: 100%; background: #fff; margin: .4em 0 1.2em; }
th, td { border: 1px solid var(--line); padding: .35em .6em; text-align: left;
  vertical-align: top; }
th { background: #eef1f4; font-weight: 600; }
td { font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
form.inline, form.stack { background: #fff; border: 1px solid var(--line); padding: .8em;
  margin: .6em 0 1.2em; }
form.stack label { display: block; margin: .4em 0 .15em; color: var(--muted); }
form.inline label { margin-right: .8em; }
input, select, textarea, button { font: inherit; }
input[type=text], input[type=password], input[type=search], input[type=date], select,
textarea { padding: .3em .4em; border: 1px solid #b9c2cc; border-radius: 3px; }
form.stack input, form.stack select, form.stack textarea { width: 100%; max-width: 36em; }
textarea { min-height: 4em; }
button { padding: .35em .9em; border: 1px solid var(--accent); background: var(--accent);
  color: #fff; border-radius: 3px; cursor: pointer; }
header button { background: #fff; color: var(--accent); }
.notice { padding: .7em 1em; background: #fff; border-left: 4px solid var(--accent); }
#login-error, .error { border-left-color: var(--bad); color: var(--bad); }
.empty { color: var(--muted); }
.hit { background: #fff; border: 1px solid var(--line); padding: .5em .8em; margin: .5em 0; }
.hit .meta, .version .meta, .message .meta { color: var(--muted); font-size: .92em; }
.message { background: #fff; border: 1px solid var(--line); padding: .6em .9em;
  margin: .7em 0; }
.versions { list-style: none; padding: 0; margin: .4em 0 0; }
.version { border-left: 3px solid var(--line); padding: .2em .7em; margin: .35em 0; }
.version[data-version-kind=edit] { border-left-color: #c98a00; }
.version[data-version-kind=deletion] { border-left-color: var(--bad); }
.body { white-space: pre-wrap; overflow-wrap: anywhere; margin: .2em 0; }
.mark { font-size: .85em; padding: 0 .35em; border: 1px solid var(--line); border-radius: 3px; }
.attachments { margin: .3em 0 0; padding-left: 1.2em; }
#report svg { max-width: 100%; height: auto; }
"""
