package bench

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func BenchmarkProfRawHeaders(b *testing.B) {
	srv := testenv.NewNATS(b)
	nc := testenv.Connect(b, srv.ClientURL())
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	js.CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{Name: "R", Subjects: []string{"r.>"}, Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute})
	b.Logf("raw plain: %.0f", rawPublishRate(b, js, 200000))
	payload := make([]byte, 256)
	last := make([]uint64, 1000)
	n := 200000
	start := time.Now()
	// Pipelined in rounds: each subject's next message expects the previous sequence.
	for round := 0; round < n/1000; round++ {
		futs := make([]jetstream.PubAckFuture, 1000)
		for i := 0; i < 1000; i++ {
			m := &nats.Msg{Subject: "r." + strconv.Itoa(i), Data: payload, Header: nats.Header{}}
			f, err := js.PublishMsgAsync(m, jetstream.WithMsgID(strconv.Itoa(round)+"-"+strconv.Itoa(i)), jetstream.WithExpectLastSequencePerSubject(last[i]))
			if err != nil {
				b.Fatal(err)
			}
			futs[i] = f
		}
		for i, f := range futs {
			select {
			case a := <-f.Ok():
				last[i] = a.Sequence
			case err := <-f.Err():
				b.Fatal(err)
			}
		}
	}
	b.Logf("raw with msg-id + expected-last-subject-seq: %.0f msg/s", float64(n)/time.Since(start).Seconds())
}
