// Package devstack starts private PostgreSQL and Redis servers from the binaries
// installed on this machine, with their data under a directory. `laurel dev`
// uses it so a newcomer needs no setup, and the tests use it for real servers.
package devstack

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/lib/pq" // PostgreSQL driver
)

// Server is a running child server.
type Server struct {
	URL  string
	cmd  *exec.Cmd
	done chan error
}

// Stop asks the server to shut down cleanly and waits for it.
func (s *Server) Stop() error {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	return nil
}

// Options tune a server for its use: tests trade durability for speed.
type Options struct {
	Durable bool // fsync and persistence on (laurel dev); off for tests
	// Port, when non-zero, is the loopback port to listen on, so a test can
	// stop a server and start it again where its clients expect it.
	Port int
}

func (o Options) port() (int, error) {
	if o.Port != 0 {
		return o.Port, nil
	}
	return freePort()
}

// ErrMissing reports a server binary that is not installed; its message names
// the package to install.
var ErrMissing = errors.New("server binary not installed")

// postgresBin finds the directory holding initdb and postgres: on PATH, or in
// Debian's /usr/lib/postgresql/<version>/bin (newest first).
func postgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
		if q, err := exec.LookPath("postgres"); err == nil {
			_ = q
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: PostgreSQL (initdb, postgres) not found on PATH or in /usr/lib/postgresql/*/bin; install it with `sudo apt-get install postgresql`", ErrMissing)
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func bin(dir, name string) string {
	if p := filepath.Join(dir, name); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return filepath.Join(dir, name)
}

// StartPostgres initialises (first time) and starts PostgreSQL with its data in
// dir, listening on a free loopback port, and makes sure database dbname exists.
// initdb refuses to run as root, so as root the server runs as the `postgres`
// system user (or `nobody`), owning dir.
func StartPostgres(ctx context.Context, dir, dbname string, opt Options) (*Server, error) {
	binDir, err := postgresBin()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	cred, err := serverCredential(dir)
	if err != nil {
		return nil, err
	}
	stopStale(dir)
	if !fileExists(filepath.Join(dir, "PG_VERSION")) {
		cmd := exec.CommandContext(ctx, bin(binDir, "initdb"), "-D", dir, "-U", "laurel", "--auth=trust", "-E", "UTF8", "--no-locale")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("initdb %s: %w: %s", dir, err, lastLines(out, 5))
		}
	}
	port, err := opt.port()
	if err != nil {
		return nil, err
	}
	args := []string{"-D", dir, "-p", strconv.Itoa(port), "-h", "127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"}
	if !opt.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	logf, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open postgres log: %w", err)
	}
	if cred != nil {
		_ = os.Chown(logf.Name(), int(cred.Uid), int(cred.Gid))
	}
	cmd := exec.Command(bin(binDir, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT, Setpgid: true}
	s, err := start(cmd)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s.URL = fmt.Sprintf("postgres://laurel@127.0.0.1:%d/%s?sslmode=disable", port, dbname)
	if err := waitPostgres(ctx, s, port, dbname); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("postgres did not come up (see %s): %w", logf.Name(), err)
	}
	return s, nil
}

func waitPostgres(ctx context.Context, s *Server, port int, dbname string) error {
	admin := fmt.Sprintf("postgres://laurel@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err := sql.Open("postgres", admin)
		if err == nil {
			err = db.PingContext(ctx)
			if err == nil {
				var exists bool
				if err = db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, dbname).Scan(&exists); err == nil && !exists {
					_, err = db.ExecContext(ctx, `CREATE DATABASE "`+strings.ReplaceAll(dbname, `"`, ``)+`"`)
				}
			}
			db.Close()
			if err == nil {
				return nil
			}
		}
		select {
		case err := <-s.done:
			return fmt.Errorf("server exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StartRedis starts redis-server with its data in dir on a free loopback port.
func StartRedis(ctx context.Context, dir string, opt Options) (*Server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("%w: redis-server not found on PATH; install it with `sudo apt-get install redis-server`", ErrMissing)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	port, err := opt.port()
	if err != nil {
		return nil, err
	}
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--databases", "1024", "--daemonize", "no", "--protected-mode", "yes", "--logfile", filepath.Join(dir, "redis.log")}
	if opt.Durable {
		args = append(args, "--appendonly", "yes", "--save", "60 1")
	} else {
		args = append(args, "--appendonly", "no", "--save", "")
	}
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	s, err := start(cmd)
	if err != nil {
		return nil, fmt.Errorf("start redis: %w", err)
	}
	s.URL = fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("redis exited (see %s): %v", filepath.Join(dir, "redis.log"), err)
		default:
		}
		if time.Now().After(deadline) {
			_ = s.Stop()
			return nil, fmt.Errorf("redis did not come up: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func start(cmd *exec.Cmd) (*Server, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait(); close(s.done) }()
	return s, nil
}

// serverCredential returns the user PostgreSQL must run as: nil (ourselves)
// unless we are root, in which case the data directory is handed to an
// unprivileged system user.
func serverCredential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var u *user.User
	var err error
	for _, name := range []string{"postgres", "nobody"} {
		if u, err = user.Lookup(name); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("running as root and no `postgres` or `nobody` user to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	err = filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return nil, fmt.Errorf("hand %s to user %s: %w", dir, u.Username, err)
	}
	// The server user must be able to reach dir through its parents.
	for p := filepath.Dir(dir); p != "/" && p != "."; p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o001 == 0 {
			_ = os.Chmod(p, fi.Mode().Perm()|0o001)
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// stopStale stops a server left running by a previous process that was killed
// before it could stop its child (its postmaster.pid still names a live pid).
func stopStale(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return
	}
	if syscall.Kill(pid, syscall.SIGINT) != nil {
		return
	}
	for i := 0; i < 150 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
