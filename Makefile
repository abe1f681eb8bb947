# xlate — build, run, test. `make help` lists the targets.
SWIFT     ?= swift
CONFIG    ?= release
PREFIX    ?= /usr/local
# Tests run optimised (parity tests translate real sentences) with internal symbols visible to @testable.
SWIFT_TEST_FLAGS ?= -c release -Xswiftc -enable-testing
PYTHON_VENV ?= $(HOME)/.cache/xlate/venv
BIN = .build/$(CONFIG)/xlate
BENCH_ARGS ?=
BENCH_SERVE_ARGS ?=
BENCH_SCALE_ARGS ?=
QUALITY_ARGS ?=

.PHONY: help setup build run serve test test-asan fuzz fixtures bench bench-scale bench-serve bench-million demo-cluster test-browser quality install man clean example align-eval

help:
	@echo "make setup     install system packages (libopenblas-dev, libsentencepiece-dev, libxml2-dev, libcmark-gfm-dev)"
	@echo "make build     build the xlate binary ($(BIN))"
	@echo "make run       build, then translate a sample with the bundled en-de model"
	@echo "make serve     build, then serve the bundled models on http://127.0.0.1:5000 (LibreTranslate API, page at /)"
	@echo "make test      run all tests (no Python needed)"
	@echo "make test-browser  the page of xlate serve in headless Chromium (selenium; apt-get install chromium"
	@echo "               chromium-driver); not part of make test; saves docs/serve-page.png"
	@echo "make test-asan the test suite under AddressSanitizer (optimised, so floats match make test)"
	@echo "make fuzz      libFuzzer targets (safetensors, config, vocabulary, pytorch, tokenizer), FUZZ_SECONDS=60 each"
	@echo "make fixtures  regenerate Fixtures/ with transformers (makes a virtualenv in $(PYTHON_VENV))"
	@echo "make bench     compare xlate with CTranslate2 and transformers (virtualenv in ~/.cache/xlate/bench-venv;"
	@echo "               BENCH_ARGS=\"--lines 100\" for a quick run)"
	@echo "make bench-scale  xlate vs CTranslate2 at opus-mt-en-de and opus-mt-tc-big sizes (random weights, forced"
	@echo "               output lengths), then batch-1 latency; hours on 2 cores (BENCH_SCALE_ARGS=\"--sizes"
	@echo "               opus-mt-en-de --lines 50 --lengths 32 --no-latency\" for a quick run)"
	@echo "make bench-serve  xlate serve vs LibreTranslate over HTTP, 8 and 32 clients, same model and cores"
	@echo "               (virtualenv in ~/.cache/xlate/serve-bench-venv; BENCH_SERVE_ARGS=\"--lines 100\" for a quick run)"
	@echo "make bench-million  one million short lines through one process: line count, order, peak RSS (LINES=...)"
	@echo "make quality   BLEU/chrF of xlate and CTranslate2, float32 and int8, on tatoeba-test + newstest2014"
	@echo "               (QUALITY_ARGS=\"--lines 30\" for a quick run)"
	@echo "make align-eval  AER, precision, recall of each alignment method and direction on Fixtures/alignment-gold"
	@echo "make example   build Examples/SubtitleTranslator (depends on xlate by path) and translate its sample.srt"
	@echo "make demo-cluster  2 xlate serve replicas + nginx (deploy/nginx/xlate.conf) on loopback, the LibreTranslate"
	@echo "               client through the balancer; shows both replicas served (apt-get install nginx)"
	@echo "make man       the manual page, from the command's own help, in .build/man/xlate.1 (man -l .build/man/xlate.1)"
	@echo "make install   install xlate, its manual page and the bundled models under PREFIX ($(PREFIX))"

# The system libraries the build links against; installed only when missing. libxml2 and cmark-gfm are for
# XlateDocuments (HTML and Markdown parsers).
SYSTEM_PACKAGES = libopenblas-dev libsentencepiece-dev libxml2-dev libcmark-gfm-dev libcmark-gfm-extensions-dev
setup:
	@if ! dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(SYSTEM_PACKAGES); \
	fi

build: setup
	$(SWIFT) build -c $(CONFIG) --product xlate

run: build
	echo "The cat sat on the mat because it was tired." | $(BIN) --src en --tgt de

serve: build
	$(BIN) serve

# ServerTests runs the real LibreTranslate client (libretranslatepy) when XLATE_TEST_PYTHON names a python that has
# it (.ci/run makes one in ~/.cache/xlate/client-venv); otherwise that one test is skipped with a message.
test: setup
	$(SWIFT) build $(SWIFT_TEST_FLAGS) --product xlate
	$(SWIFT) test $(SWIFT_TEST_FLAGS)

# Outside `make test`: needs Debian's chromium + chromium-driver and selenium (Tests/Browser/run.sh installs it into
# a virtualenv); the screenshot it saves is committed.
test-browser: build
	Tests/Browser/run.sh

# Memory errors (overflows, use after free) fail the run. Leak detection is off: LeakSanitizer reports leaks inside
# Foundation's Data(contentsOf:) and XCTest's harness, none through xlate's code (checked when this target was added).
test-asan: setup
	$(SWIFT) build $(SWIFT_TEST_FLAGS) --sanitize=address --scratch-path .build-asan --product xlate
	ASAN_OPTIONS=detect_leaks=0 $(SWIFT) test $(SWIFT_TEST_FLAGS) --sanitize=address --scratch-path .build-asan

# Bounded libFuzzer runs (Fuzz/README.md): builds the Fuzz/ package with -sanitize=fuzzer,address; findings go to
# .fuzz/artifacts and make the target fail.
fuzz: setup
	Fuzz/fuzz.sh

fixtures:
	test -x $(PYTHON_VENV)/bin/python || python3 -m venv $(PYTHON_VENV)
	$(PYTHON_VENV)/bin/pip install -q -r Fixtures/requirements.txt
	$(PYTHON_VENV)/bin/python Fixtures/generate.py
	$(PYTHON_VENV)/bin/python Fixtures/generate_t5.py
	$(PYTHON_VENV)/bin/python Fixtures/generate_m2m100.py
	$(PYTHON_VENV)/bin/python Fixtures/generate_mbart50.py
	$(PYTHON_VENV)/bin/python Fixtures/generate_bart.py
	$(PYTHON_VENV)/bin/python Fixtures/generate_scores.py
	$(PYTHON_VENV)/bin/python Fixtures/generate_bin.py

bench: setup
	Benchmarks/run.sh $(BENCH_ARGS)

# Benchmarks/README.md, "Speed at real sizes": random-weight checkpoints made once in ~/.cache/xlate/bench-scale.
bench-scale: setup
	Benchmarks/scale/run.sh $(BENCH_SCALE_ARGS)

# Builds xlate itself when Sources/ is newer than the binary (as make bench does).
bench-serve: setup
	Benchmarks/serve/run.sh $(BENCH_SERVE_ARGS)

bench-million: build
	Benchmarks/million_lines.sh

quality: setup
	Benchmarks/quality.sh $(QUALITY_ARGS)

# Alignment error rate of each way of reading links from the attention, both directions and symmetrised, on the
# hand-aligned dev gold (Fixtures/alignment-gold/README.md); choices are learned on its even lines, reported on its odd.
align-eval: build
	$(BIN) align-eval --gold Fixtures/alignment-gold --pair en-de

# deploy/README.md: the replicas and nginx run as plain processes on loopback and are stopped on exit.
demo-cluster: build
	deploy/demo-cluster.sh

# The example package: a separate SwiftPM package that depends on this one by path.
example: setup
	cd Examples/SubtitleTranslator && $(SWIFT) build -c $(CONFIG)
	Examples/SubtitleTranslator/.build/$(CONFIG)/subtitle-translator --model Models/xlate-en-de Examples/SubtitleTranslator/sample.srt

# swift-argument-parser's generate-manual plugin writes the page from the commands' help texts.
man: build
	$(SWIFT) package generate-manual
	install -D -m 644 .build/plugins/GenerateManual/outputs/xlate/xlate.1 .build/man/xlate.1

install: build man
	install -d $(PREFIX)/bin $(PREFIX)/share/xlate/models $(PREFIX)/share/man/man1
	install -m 755 $(BIN) $(PREFIX)/bin/xlate
	install -m 644 .build/man/xlate.1 $(PREFIX)/share/man/man1/xlate.1
	cp -R Models/. $(PREFIX)/share/xlate/models/

clean:
	rm -rf .build .build-asan .fuzz Examples/SubtitleTranslator/.build
