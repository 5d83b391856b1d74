// Command laurel is Laurel's one binary: the server, the background workers,
// the local sandbox and the administrative commands (docs/commands.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

const usage = `usage: laurel <command> [flags]

commands:
  dev [--port N] [--data DIR] [--migrate=false]
                              run everything locally (private PostgreSQL, Redis, mail catcher, Canvas sandbox)
  serve [--workers=false] [--migrate=false]
                              the production server (HTTP + background workers)
  worker [--migrate=false]    background workers only
  migrate [up|status]         apply or list the embedded migrations
  user add --email E --name N --role owner|admin|team_member|viewer [--groups ID,...]
  token create --name N --role ROLE [--groups ID,...]
  organisation set --name N [--website U] [--contact-email E] [--logo FILE] [--time-zone Z]
                              name the issuing organisation (nothing is published until it is named)
  person export --email E     print everything Laurel holds about one person as JSON
  person erase --email E [--yes]
                              erase one person (asks for confirmation unless --yes)
  platform add --name N --issuer URL --client-id ID --auth-url URL --token-url URL --jwks-url URL
               [--deployment-id ID]... [--canvas-url URL] [--canvas-token TOKEN]
               [--moodle-url URL] [--moodle-token TOKEN]
  platform set --id ID [--canvas-url URL] [--canvas-token TOKEN] [--moodle-url URL] [--moodle-token TOKEN]
                              change a platform's Canvas or Moodle web service settings
  platform list
  platform link [--expires DURATION]
                              print a one-time Dynamic Registration link (default: valid 24h)
  reconcile [--mapping ID]    check Canvas and Moodle for completions now
  keys rotate                 add a new tool signing key (--credentials: new Open Badges signing keys)
  help [command]              this list, or one command's flags (also: laurel <command> --help)
`

// gcPercent is the garbage collector's GOGC unless the environment sets
// one. Laurel's live heap is a few megabytes, so at Go's default of 100 it
// collects every few hundred requests and the collector was a quarter of
// a launch's CPU; at 400 the heap may grow to five times the live data (tens
// of megabytes) and the collector's share falls to a few percent.
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	m := &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	err := m.Run(ctx, os.Args[1:])
	stop()
	m.Close()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "laurel: "+oneLine(err.Error()))
		}
		os.Exit(1)
	}
}

// Main is the program: it holds what a command opened so Close can release it.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	closers        []func()
}

// Close releases everything the command opened, in reverse order.
func (m *Main) Close() {
	for i := len(m.closers) - 1; i >= 0; i-- {
		m.closers[i]()
	}
	m.closers = nil
}

func (m *Main) onClose(f func()) { m.closers = append(m.closers, f) }

// Run dispatches args to a command. `laurel help [command]` and
// `laurel <command> --help` print usage on stdout and succeed.
func (m *Main) Run(ctx context.Context, args []string) error {
	slog.SetDefault(slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return errors.New("no command given")
	}
	if (args[0] == "help" || isHelpFlag(args[0])) && len(args) > 1 {
		args = append(args[1:len(args):len(args)], "--help")
	}
	err := m.dispatch(ctx, args)
	var h *helpRequest
	if errors.As(err, &h) {
		h.print(m.Stdout)
		return nil
	}
	return err
}

// groupCommands have subcommands: `laurel user` alone is incomplete.
var groupCommands = map[string]bool{"user": true, "token": true, "organisation": true, "person": true, "platform": true, "keys": true}

func (m *Main) dispatch(ctx context.Context, args []string) error {
	cmd, rest := args[0], args[1:]
	sub := ""
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		sub = rest[0]
	}
	switch {
	case cmd == "dev":
		return m.dev(ctx, rest)
	case cmd == "serve":
		return m.serve(ctx, rest)
	case cmd == "worker":
		return m.worker(ctx, rest)
	case cmd == "migrate":
		return m.migrate(ctx, rest)
	case cmd == "user" && sub == "add":
		return m.userAdd(ctx, rest[1:])
	case cmd == "token" && sub == "create":
		return m.tokenCreate(ctx, rest[1:])
	case cmd == "organisation" && sub == "set":
		return m.organisationSet(ctx, rest[1:])
	case cmd == "person" && sub == "export":
		return m.personExport(ctx, rest[1:])
	case cmd == "person" && sub == "erase":
		return m.personErase(ctx, rest[1:])
	case cmd == "platform" && sub == "add":
		return m.platformAdd(ctx, rest[1:])
	case cmd == "platform" && sub == "set":
		return m.platformSet(ctx, rest[1:])
	case cmd == "platform" && sub == "list":
		return m.platformList(ctx, rest[1:])
	case cmd == "platform" && sub == "link":
		return m.platformLink(ctx, rest[1:])
	case cmd == "reconcile":
		return m.reconcile(ctx, rest)
	case cmd == "keys" && sub == "rotate":
		return m.keysRotate(ctx, rest[1:])
	case cmd == "help" || isHelpFlag(cmd):
		fmt.Fprint(m.Stdout, usage)
		return nil
	case groupCommands[cmd] && sub == "" && len(rest) > 0 && isHelpFlag(rest[0]):
		return &helpRequest{name: cmd}
	case groupCommands[cmd] && sub == "":
		fmt.Fprint(m.Stderr, commandUsage(cmd))
		return fmt.Errorf("%s: missing subcommand (see laurel %s --help)", cmd, cmd)
	}
	fmt.Fprint(m.Stderr, usage)
	return fmt.Errorf("unknown command %q", strings.TrimSpace(cmd+" "+sub))
}

func isHelpFlag(s string) bool { return s == "-h" || s == "-help" || s == "--help" }

// helpRequest is a command's answer to --help: Run prints its usage and
// flags on stdout and exits 0.
type helpRequest struct {
	name string
	fs   *flag.FlagSet // nil for a command with subcommands
}

func (h *helpRequest) Error() string { return h.name + ": help requested" }

func (h *helpRequest) print(w io.Writer) {
	fmt.Fprint(w, commandUsage(h.name))
	if h.fs == nil {
		return
	}
	n := 0
	h.fs.VisitAll(func(f *flag.Flag) {
		if n == 0 {
			fmt.Fprintln(w, "\nflags:")
		}
		n++
		typ, text := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if typ != "" {
			name += " " + typ
		}
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			text += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "  %-24s %s\n", name, text)
	})
}

// commandUsage is usage's lines for command name ("user add", or "user" for
// all of its subcommands), falling back to shorter prefixes of name and to
// the whole list, so a command is described in one place.
func commandUsage(name string) string {
	for prefix := name; prefix != ""; {
		var b strings.Builder
		in := false
		for _, line := range strings.Split(usage, "\n") {
			switch {
			case strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   "):
				f := strings.TrimSpace(line)
				in = f == prefix || strings.HasPrefix(f, prefix+" ")
			case !strings.HasPrefix(line, "   "):
				in = false
			}
			if in {
				b.WriteString(line + "\n")
			}
		}
		if b.Len() > 0 {
			head := "usage: laurel " + name + " [flags]\n\n"
			if groupCommands[name] {
				head = "usage: laurel " + name + " <subcommand> [flags]\n\n"
			}
			return head + b.String()
		}
		i := strings.LastIndexByte(prefix, ' ')
		if i < 0 {
			break
		}
		prefix = prefix[:i]
	}
	return usage
}

// flags returns a FlagSet that reports errors as one line instead of printing usage.
func (m *Main) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return &helpRequest{name: fs.Name(), fs: fs}
	} else if err != nil {
		return fmt.Errorf("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// multiFlag collects a repeated flag (--deployment-id A --deployment-id B).
type multiFlag []string

func (f *multiFlag) String() string     { return strings.Join(*f, ",") }
func (f *multiFlag) Set(v string) error { *f = append(*f, v); return nil }
