package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Worker is an `argus worker` process.
type Worker struct {
	t    testing.TB
	ID   string
	cmd  *exec.Cmd
	out  *SyncBuffer
	args []string
}

// WorkerOptions for StartWorker.
type WorkerOptions struct {
	ID          string // default w-<pid-ish>
	Group       string // default "default"
	Slots       int    // default 2
	OnlineSlots int    // default 0: the worker's default reservation
	Args        []string
}

// StartWorker starts an `argus worker` on a node's embedded NATS (the node
// must listen on a known NATS port: NodeOptions.NATS) and its data directory
// (the recordings and results of a local storage). It is killed when the
// test ends.
func StartWorker(t testing.TB, n *Node, o WorkerOptions) *Worker {
	t.Helper()
	if n.NATS == "" {
		t.Fatal("testenv: the node's NATS URL is unknown; start it with NodeOptions.NATS")
	}
	if o.Slots == 0 {
		o.Slots = 2
	}
	if o.Group == "" {
		o.Group = "default"
	}
	if o.ID == "" {
		o.ID = fmt.Sprintf("w-%d", time.Now().UnixNano()%1_000_000)
	}
	w := &Worker{t: t, ID: o.ID, out: &SyncBuffer{}}
	w.args = append([]string{"worker", "--nats", n.NATS, "--secret", Secret, "--id", o.ID, "--group", o.Group,
		"--slots", strconv.Itoa(o.Slots), "--online-slots", strconv.Itoa(o.OnlineSlots), "--data", n.Data, "--log-level", "debug"}, o.Args...)
	w.cmd = exec.Command(Binary(t), w.args...)
	w.cmd.Env = os.Environ()
	w.cmd.Stdout, w.cmd.Stderr = w.out, w.out
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := w.cmd
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return w
}

// Kill ends the worker with SIGKILL (its tasks go to other slots after
// their lease).
func (w *Worker) Kill() {
	w.cmd.Process.Kill()
	w.cmd.Wait()
}

// Pid is the worker's process id.
func (w *Worker) Pid() int { return w.cmd.Process.Pid }

// Output is what the worker logged.
func (w *Worker) Output() string { return w.out.String() }
