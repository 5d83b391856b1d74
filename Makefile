# The two commands of the README's quick start:
#   make dev    runs Laurel locally (private PostgreSQL, Redis, mail catcher, Canvas sandbox)
#   make test   runs the whole test suite against real PostgreSQL, Redis, SMTP and Chromium
# Each installs what it needs with apt-get when run as root (or with passwordless sudo),
# and otherwise names the packages to install: make dev only Go, PostgreSQL and Redis.

GO ?= go
GO_MIN := 1.26
# staticcheck is pinned; `go run` fetches it through the Go module proxy once and caches it.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: dev test bench bench-publish bench-outside deps dev-deps test-deps build lint fuzz faults npm-deps

build:
	$(GO) build -o bin/laurel ./cmd/laurel

dev: dev-deps build
	./bin/laurel dev

# -p 2: two packages at a time on a 2-core machine; each starts its own servers.
test: test-deps npm-deps
	@unformatted=$$(gofmt -l cmd lti canvas moodle issuance internal migrations); \
	 if [ -n "$$unformatted" ]; then echo "gofmt -w these files:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) test -p 2 -count=1 -timeout 14m ./...

# Benchmarks print their figures (seconds, p95/p99 ms, launches/s, events/s, peak MB).
bench: test-deps bench-publish
	$(GO) test -run '^$$' -bench 'PublishAndDeliver10k' -benchtime 1x ./issuance/delivery/
	$(GO) test -run '^$$' -bench 'ListUnpublished100k' -benchtime 500x ./issuance/api/
	$(GO) test -run '^$$' -bench 'ReviewUnpublishedPage' -benchtime 1000x ./issuance/uitest/
	$(GO) test -run '^$$' -bench 'SearchReviewPage1M' -benchtime 1000x -timeout 30m ./issuance/uitest/
	$(GO) test -run '^$$' -bench 'LoginLaunch' -benchtime 3000x ./lti/
	$(GO) test -run '^$$' -bench 'ServeLoginLaunch' -benchtime 10000x ./cmd/laurel/
	$(GO) test -run '^$$' -bench 'DriverLoginLaunch' -benchtime 10000x ./cmd/laurel/
	$(GO) test -run '^$$' -bench 'IdleServe' -benchtime 1x ./cmd/laurel/
	$(GO) test -run '^$$' -bench 'WebhookIngest' -benchtime 10000x ./canvas/
	$(GO) test -run '^$$' -bench 'CompletionWorker' -benchtime 1x ./canvas/
	$(GO) test -run '^$$' -bench 'Reconcile10k' -benchtime 1x ./canvas/
	$(GO) test -run '^$$' -bench 'Import100k' -benchtime 1x ./issuance/imports/
	$(GO) test -run '^$$' -bench 'Import1M' -benchtime 1x -timeout 30m ./issuance/imports/
	$(GO) test -run '^$$' -bench 'ReadCSV1M|ReadXLSX100k' -benchtime 1x ./issuance/sheet/
	$(GO) test -run '^$$' -bench 'CompletionsEndToEnd' -benchtime 1x ./canvas/
	$(GO) test -run '^$$' -bench 'DriverCompletions' -benchtime 1x ./cmd/laurel/
	$(GO) test -run '^$$' -bench 'CheckJSON' -benchtime 5x ./internal/text/
	$(GO) test -run '^$$' -bench 'PublishSignAndDeliver10k|SignCredentials10k' -benchtime 1x ./issuance/public/
	$(GO) test -run '^$$' -bench 'VerifyPage' -benchtime 2000x ./issuance/public/
	$(GO) test -run '^$$' -bench 'SignCredential|CanonicalGeneral' ./issuance/openbadges/
	$(GO) test -run '^$$' -bench 'CertificatePDF' -benchtime 200x ./issuance/public/
	$(GO) test -run '^$$' -bench 'ReminderScan1M' -benchtime 1x ./issuance/reminders/
	$(GO) test -run '^$$' -bench 'Render' ./issuance/certpdf/

lint:
	gofmt -l cmd lti canvas moodle issuance internal migrations
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzValidateIDToken -fuzztime 60s -fuzzminimizetime 2s ./lti/
	$(GO) test -run '^$$' -fuzz FuzzLaunchClaims -fuzztime 60s -fuzzminimizetime 2s ./lti/
	$(GO) test -run '^$$' -fuzz FuzzCSV -fuzztime 60s -fuzzminimizetime 2s ./issuance/sheet/
	$(GO) test -run '^$$' -fuzz FuzzParseDate -fuzztime 60s -fuzzminimizetime 2s ./issuance/sheet/
	$(GO) test -run '^$$' -fuzz FuzzCheckJSON -fuzztime 60s -fuzzminimizetime 2s ./internal/text/
	$(GO) test -run '^$$' -fuzz FuzzNQuadsMatchGeneral -fuzztime 60s -fuzzminimizetime 2s ./issuance/openbadges/

# 100,000 credentials published with one API request to a real `laurel serve`,
# signed and emailed to a counting SMTP sink: request ms, seconds until the last
# email, Laurel's peak RSS and CPU, duplicates. BENCH_PUBLISH_N=20000 for a quick run.
bench-publish: test-deps
	$(GO) test -run '^$$' -bench 'ServePublish100k' -benchtime 1x -timeout 20m ./cmd/laurel/

# What an outside client sees of one `laurel serve` (its own process, its CPU
# read from /proc over the whole run), one figure after the other on the same
# machine: student login + launch (the in-process benchmark, then the driver),
# Canvas completions with the worker running, and the 100,000 publish.
bench-outside: test-deps
	$(GO) test -run '^$$' -bench 'ServeLoginLaunch' -benchtime 10000x ./cmd/laurel/
	$(GO) test -run '^$$' -bench 'DriverLoginLaunch' -benchtime 10000x ./cmd/laurel/
	$(GO) test -run '^$$' -bench 'DriverCompletions' -benchtime 1x ./cmd/laurel/
	$(GO) test -run '^$$' -bench 'ServePublish100k' -benchtime 1x -timeout 20m ./cmd/laurel/

# Real-time fault run (not part of make test): SMTP down 10 minutes with 3,000
# emails queued, and a laurel worker SIGKILLed while sending; prints FIGURES lines.
faults: test-deps
	$(GO) test -tags faults -count=1 -v -timeout 60m -run 'TestFaultSMTPDownForMinutes|TestKilledWorkerLosesNoMailAndRepeatsAtMostThePool' ./cmd/laurel/

# What running Laurel needs (dev-deps: Go, PostgreSQL, Redis) and what the
# tests need besides (test-deps: Node and npm for the pinned verifier and
# axe-core, Chromium, exiftool, poppler, zbar). Each checks, then installs what is
# missing with apt-get as root or with passwordless sudo, or names it.
define install_missing
	 if [ -n "$$missing" ]; then \
	   if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo"; else \
	     echo "Please install:$$missing   (sudo apt-get install -y$$missing)"; exit 1; fi; \
	   echo "Installing:$$missing"; \
	   $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null || { echo "apt-get install$$missing failed"; exit 1; }; \
	   for s in postgresql redis-server; do $$SUDO systemctl disable --now $$s >/dev/null 2>&1 || true; done; \
	 fi
endef

dev-deps:
	@command -v $(GO) >/dev/null || { echo "Go $(GO_MIN)+ is required: install it from https://go.dev/dl/ (Debian's golang package is too old)"; exit 1; }
	@missing=""; \
	 { command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || missing="$$missing postgresql"; \
	 command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	$(install_missing)

test-deps: dev-deps
	@missing=""; \
	 command -v node >/dev/null || missing="$$missing nodejs"; \
	 command -v npm >/dev/null || missing="$$missing npm"; \
	 [ -x /usr/bin/chromium ] || command -v chromium >/dev/null || missing="$$missing chromium"; \
	 command -v exiftool >/dev/null || missing="$$missing libimage-exiftool-perl"; \
	 command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	 command -v zbarimg >/dev/null || missing="$$missing zbar-tools"; \
	$(install_missing)

# deps is test-deps, under its old name.
deps: test-deps

# Node packages the tests use as independent implementations, pinned by their
# package-lock.json: the Open Badges verifier, axe-core (accessibility) and the
# wallet clients (OpenID4VCI, the Learner Credential Wallet's exchange).
# Installed once, then offline; reinstalled only when a lock file changes.
NPM_DIRS := issuance/openbadges/testdata/verify internal/browsertest/axe issuance/wallet/testdata/wallets
npm-deps: test-deps
	@for d in $(NPM_DIRS); do \
	   if [ ! -f $$d/node_modules/.package-lock.json ] || [ $$d/package-lock.json -nt $$d/node_modules/.package-lock.json ]; then \
	     echo "Installing the npm packages of $$d"; \
	     (cd $$d && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm ci in $$d failed"; exit 1; }; \
	   fi; \
	 done
