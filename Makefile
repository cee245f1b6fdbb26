# Argus — `make run` starts a dev node, `make test` passes the tests.
# Targets install what they need (Debian packages, pinned Go tools) when missing.

GO      ?= go
BIN     := bin/argus
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the build and the tests use: a real ClickHouse server,
# protoc for `make generate`, ffmpeg/ffprobe as real video clients,
# node/npm to build the console and chromium for its browser test (Vite and
# playwright-core want Node >= 20: the machine's nodejs; Debian 12's is 18),
# mosquitto and its clients as the MQTT broker and subscriber of notify/mqtt.
APT_PKGS := clickhouse-server clickhouse-client protobuf-compiler ffmpeg nodejs npm chromium mosquitto mosquitto-clients
TEST_TIMEOUT ?= 40m

.PHONY: all deps build console run test bench fuzz generate lint clean

all: build

# deps installs the missing Debian packages (one apt-get update, only when needed).
deps:
	@missing=""; \
	command -v clickhouse-server >/dev/null || [ -x /usr/sbin/clickhouse-server ] || missing="$$missing clickhouse-server clickhouse-client"; \
	command -v protoc >/dev/null || missing="$$missing protobuf-compiler"; \
	command -v ffprobe >/dev/null || missing="$$missing ffmpeg"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto mosquitto-clients"; \
	command -v mosquitto_sub >/dev/null || missing="$$missing mosquitto-clients"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# console rebuilds the embedded web console into gateway/console/dist/
# (committed, so `go build` needs no Node; gateway's tests fail when it is stale).
console: deps
	cd gateway/console && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/argus

run: deps build
	./$(BIN) dev --demo 4

test: deps
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# Figures next to same-run baselines (test/bench prints the table), then the
# package benchmarks: playback time-to-first-byte over one hour, recorder CPU.
bench: deps build
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 60m ./test/bench/
	$(GO) test -count=1 -run '^$$' -bench 'MP4TTFB|RecorderCPU' -benchtime 1x -timeout 20m ./actors/media/playback/ ./actors/media/record/

# Each fuzz target explores for FUZZTIME (go test -fuzz takes one target per
# run); their seed corpora (testdata/fuzz/) run as plain tests in `make test`.
# The playback package records its fixtures first (about 30 s, in each
# worker); its execs are slow, so its new inputs are minimized for 3 s, not 60.
FUZZTIME ?= 30s
fuzz: deps
	$(GO) test -run '^$$' -fuzz '^FuzzCheckScalars$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzParseDeviceURL$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzCheckLabels$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzParseIfMatch$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzParseLabelFilter$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzRegisterCommand$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzUpdateCommand$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzPutPlan$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzPlaybackRange$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzParsePath$$' -fuzztime $(FUZZTIME) ./actors/media/relay/
	$(GO) test -run '^$$' -fuzz '^FuzzRequestURL$$' -fuzztime $(FUZZTIME) ./actors/media/relay/
	$(GO) test -run '^$$' -fuzz '^FuzzScan$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 3s ./actors/media/playback/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./actors/media/token/
	$(GO) test -run '^$$' -fuzz '^FuzzParseEnvelope$$' -fuzztime $(FUZZTIME) ./actors/media/onvif/
	$(GO) test -run '^$$' -fuzz '^FuzzParseFault$$' -fuzztime $(FUZZTIME) ./actors/media/onvif/
	$(GO) test -run '^$$' -fuzz '^FuzzFaultRoundTrip$$' -fuzztime $(FUZZTIME) ./actors/media/onvif/
	$(GO) test -run '^$$' -fuzz '^FuzzParseNotifications$$' -fuzztime $(FUZZTIME) ./actors/media/onvif/
	$(GO) test -run '^$$' -fuzz '^FuzzParseProbeMatches$$' -fuzztime $(FUZZTIME) ./actors/media/onvif/
	$(GO) test -run '^$$' -fuzz '^FuzzParseChallenges$$' -fuzztime $(FUZZTIME) ./actors/media/httpauth/

generate: deps
	protoc --plugin=protoc-gen-go=$$($(GO) tool -n protoc-gen-go) \
		--go_out=. --go_opt=module=github.com/argus-vms/argus events/pb/*.proto

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
