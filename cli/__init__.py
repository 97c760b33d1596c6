"""`rc-archive`, the command line: the top layer, above `assets/`, `pipelines/` and `schemas/`
(nothing but tests, benchmarks and the sandbox imports it).

Layout:

- `main.py`: `main(argv)` (the `rc-archive` entry point, also `python -m cli`) and the parser,
  built from every group's `COMMANDS`;
- `command.py`: how a command is declared (`Command`: name, help, example, arguments, handler;
  `CommandGroup` and `Subcommand` for `hold place|release|list|verify` and the like);
- one module per group of commands: `run_command.py`, `archive_commands.py`,
  `query_commands.py`, `integrity_commands.py`, `webhook_commands.py`, `hold_commands.py`,
  `review_commands.py`, `governance_commands.py`;
- `context.py`: the `Context` a handler gets (settings, environment, the archive opened once);
- `errors.py`: exit codes and the one line of each kind of error; `archive_location.py`,
  `arguments.py`, `output.py`, `sql_input.py`: what several commands share;
- `demo.py` (`make demo`) and `devserver.py` (`make dev`).

Why argparse (the standard library) and not a command-line framework: its usage lines, help
texts and error messages are the command's interface (tests and the docs check them word for
word), "did you mean" is a small subclass of it (`main._Parser`), and it costs nothing to
import, which matters for a command whose `--help` and typos must answer at once.

Why the library is imported inside the handlers: `pipelines` loads pyarrow, pandas and DuckDB
(one to two seconds), which `--help`, a typo, `keygen` or `run`'s crawls (which must not hold
DuckDB in memory) must not pay for. Each handler imports what it uses in its first lines.
"""
