"""The command line: click commands that parse options, call one action and
render its result. The only layer that prints or exits."""
