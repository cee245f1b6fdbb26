package embedded

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const killChildEnv = "ARGUS_EMBEDDED_KILL_CHILD" // "<store dir>|<sync>"

// TestMain runs the test binary as the child of TestAckedSurvivesKill when
// killChildEnv is set (the process that is killed), else the tests.
func TestMain(m *testing.M) {
	if env := os.Getenv(killChildEnv); env != "" {
		if err := runKillChild(env); err != nil {
			fmt.Fprintln(os.Stderr, "kill child:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// TestAckedSurvivesKill: with every sync setting, a message whose PubAck
// the client saw is still in the R1 stream after the server's process is
// killed with SIGKILL and a new server opens the same store. nats-server
// writes a message to its block file (write(2)) before it sends the ack, so
// the kernel holds it even when the process never fsyncs; a power loss is
// what the interval settings risk, not a crash. With embedded NATS the
// server's process is Argus itself.
func TestAckedSurvivesKill(t *testing.T) {
	for _, mode := range []string{"2m", "1s", "always"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), killChildEnv+"="+dir+"|"+mode)
			cmd.Stderr = os.Stderr
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var acked atomic.Uint64
			done := make(chan struct{})
			go func() {
				defer close(done)
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if seq, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
						n, _ := strconv.ParseUint(seq, 10, 64)
						acked.Store(n)
					}
				}
			}()
			deadline := time.Now().Add(20 * time.Second)
			for acked.Load() < 300 {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("child acked only %d in 20 s", acked.Load())
				}
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond) // kill mid-stream, not at a pause
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			cmd.Wait()
			last := acked.Load()

			s, err := Start(Options{StoreDir: dir, Listen: "127.0.0.1:0"})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Shutdown()
			if err := WaitJetStream(s, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			nc, err := nats.Connect(s.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var st jetstream.Stream
			for {
				if st, err = js.Stream(ctx, "K"); err == nil || ctx.Err() != nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err != nil {
				t.Fatal(err)
			}
			info, err := st.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("sync %s: last ack seen %d; after kill -9: last seq %d, %d messages", mode, last, info.State.LastSeq, info.State.Msgs)
			if info.State.LastSeq < last || info.State.Msgs < last {
				t.Fatalf("acked up to %d, the store kept %d (last seq %d)", last, info.State.Msgs, info.State.LastSeq)
			}
			if m, err := st.GetMsg(ctx, last); err != nil || len(m.Data) != 256 {
				t.Fatalf("message %d after restart: %v", last, err)
			}
		})
	}
}

// runKillChild is the child of TestAckedSurvivesKill: a server on the
// given store with the given sync, publishing until killed and printing
// every acknowledged sequence.
func runKillChild(env string) error {
	dir, mode, _ := strings.Cut(env, "|")
	sync, err := ParseSync(mode)
	if err != nil {
		return err
	}
	s, err := Start(Options{StoreDir: dir, Listen: "127.0.0.1:0", Sync: sync})
	if err != nil {
		return err
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		return err
	}
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "K", Subjects: []string{"k.>"}, Storage: jetstream.FileStorage}); err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	payload := make([]byte, 256)
	for i := 0; ; i++ {
		ack, err := js.Publish(ctx, "k."+strconv.Itoa(i%100), payload)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "acked %d\n", ack.Sequence)
		w.Flush()
	}
}
