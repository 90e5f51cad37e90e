// Package childproc runs a test binary again as a child process that stops at a point of its
// own, for tests of what outlives a process killed there: its locks, its half-done work.
package childproc

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Child is a running copy of the test binary.
type Child struct {
	cmd *exec.Cmd
}

// Start runs the test binary, with no tests, with env (NAME=value) added to its environment, and
// waits until it writes the line want on its standard output. Its standard input is a pipe that
// stays open and empty until the test ends, so a child that reads it waits there to be killed.
// A child that ends, or says anything else, first fails the test with what it wrote on its
// standard error.
func Start(t testing.TB, env, want string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close() })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, readErr := bufio.NewReader(out).ReadString('\n')
	if line != want+"\n" {
		// Kill first: a child that said something else may still be waiting on its input.
		_ = cmd.Process.Kill()
		err := cmd.Wait()
		t.Fatalf("the child process did not say %q (%v, %v): %q\n%s", want, err, readErr, line, stderr.String())
	}
	return &Child{cmd: cmd}
}

// Kill kills the child and waits for it to end. The error is the child's exit status: nil when it
// had already exited cleanly rather than being killed.
func (c *Child) Kill() error {
	_ = c.cmd.Process.Kill()
	return c.cmd.Wait()
}
