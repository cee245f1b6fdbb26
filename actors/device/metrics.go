package device

import "github.com/prometheus/client_golang/prometheus"

var (
	commandsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "argus_commands_total",
		Help: "Commands handled by aggregate actors, by command and result code.",
	}, []string{"command", "result"})
	appendSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "argus_event_append_seconds",
		Help:    "Latency of appending one event to JetStream (until the ack).",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5},
	})
)

func init() { prometheus.MustRegister(commandsTotal, appendSeconds) }
