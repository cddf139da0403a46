# botfleet: one non-recursive GNU makefile.
#
#   make                  build everything under build/
#   make check            build, then run unit and integration tests
#   make deps             install the Debian packages needed to build and test
#   make install          PREFIX, DESTDIR, BINDIR, LIBEXECDIR, SYSCONFDIR honoured
#   make DEVELOPER=1      warnings are errors
#   make SANITIZE=address,undefined
#   make V=1              show the commands

-include config.mak

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec
SYSCONFDIR ?= $(PREFIX)/etc
DATADIR    ?= $(PREFIX)/share
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR    ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR    ?= $(PREFIX)/lib/tmpfiles.d
DESTDIR    ?=

CC        ?= cc
CFLAGS    ?= -O2 -g
PKGS      := libcurl libpq jansson libevent inih libcrypto libxcrypt
PKG_CONFIG ?= pkg-config

B ?= build

WARN := -std=c11 -Wall -Wextra -Wformat=2 -Wshadow -Wpointer-arith \
	-Wstrict-prototypes -Wmissing-prototypes -Wwrite-strings -Wvla \
	-Wcast-qual -Wsign-compare -Werror=implicit-function-declaration \
	-fno-common
HARDEN := -fstack-protector-strong -D_FORTIFY_SOURCE=2
ifneq ($(DEVELOPER),)
WARN += -Werror
endif

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

ALL_CFLAGS  = -D_GNU_SOURCE -Icommon/include $(PKG_CFLAGS) $(WARN) $(HARDEN) \
	-MMD -MP $(CFLAGS)
ALL_LDFLAGS = -Wl,-z,relro,-z,now $(LDFLAGS)
LIBS        = $(PKG_LIBS) -lm

ifneq ($(SANITIZE),)
SAN := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
ALL_CFLAGS  += $(SAN)
ALL_LDFLAGS += $(SAN)
endif

ifeq ($(V),)
Q = @
quiet = @printf '  %-6s %s\n' $(1) $(2);
else
Q =
quiet =
endif

# Rebuild everything when the flags change (git's GIT-CFLAGS).
FLAGS_STAMP := $(B)/.flags
FLAGS_NOW := $(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(LIBS) $(DATADIR) \
	$(LIBEXECDIR)
$(shell mkdir -p $(B); \
	[ "$$(cat $(FLAGS_STAMP) 2>/dev/null)" = '$(FLAGS_NOW)' ] || \
	echo '$(FLAGS_NOW)' > $(FLAGS_STAMP))

.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:
.PHONY: all check check-all run-sandbox check-unit check-integration install uninstall clean deps \
	run lint

# ---------------------------------------------------------------- libbotcommon
COMMON_SRCS := $(sort $(wildcard common/*.c))
COMMON_OBJS := $(COMMON_SRCS:%.c=$(B)/%.o)
LIB         := $(B)/libbotcommon.a

# ---------------------------------------------------------------- programs
# Each directory under supervisor/ and bots/ contributes programs through a
# small fragment, module.mk, included here (non-recursive, like git's).
PROGRAMS :=
BOTS     :=
# The fragments define rules of their own: keep `all` the default.
.DEFAULT_GOAL := all
-include $(sort $(wildcard supervisor/*.mk bots/*/module.mk \
	tests/fakes/module.mk tests/example/module.mk))

# ---------------------------------------------------------------- tests
UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_TESTS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/unit/%)
UNIT_SUPPORT_SRCS := $(sort $(wildcard tests/unit/support/*.c))
UNIT_SUPPORT_OBJS := $(UNIT_SUPPORT_SRCS:%.c=$(B)/%.o)
HDR_SRCS   := $(sort $(wildcard common/include/botcommon/*.h))
HDR_OBJS   := $(HDR_SRCS:common/include/botcommon/%.h=$(B)/tests/hdr/%.o)
TEST_BINS  := $(UNIT_TESTS) $(TEST_PROGRAMS)

all: $(LIB) $(PROGRAMS) $(BOTS)

$(B)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Where bots find the migrations by default.
$(B)/common/bot.o: ALL_CFLAGS += -DBC_SQLDIR=\"$(DATADIR)/botfleet/sql\"

$(LIB): $(COMMON_OBJS)
	$(call quiet,AR,$@)rm -f $@ && $(AR) rcs $@ $^

$(B)/tests/unit/%: $(B)/tests/unit/%.o $(UNIT_SUPPORT_OBJS) $(LIB)
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

# Every public header compiles on its own.
$(B)/tests/hdr/%.o: common/include/botcommon/%.h $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,HDR,$<)printf '#include <botcommon/%s>\n' $*.h | \
	    $(CC) $(ALL_CFLAGS) -MF $(@:.o=.d) -MT $@ -x c -c -o $@ -

# `make check` and `make run` are each the only command a newcomer types:
# they install what is missing first (make deps), then build in a new make
# that sees the packages' pkg-config files.
check: deps
	$(Q)$(MAKE) --no-print-directory check-all

check-all: all $(TEST_BINS) $(HDR_OBJS)
	$(Q)tests/run $(B) $(TESTS)

check-unit: all $(TEST_BINS) $(HDR_OBJS)
	$(Q)tests/run $(B) unit

check-integration: all $(TEST_BINS)
	$(Q)tests/run $(B) integration

# cppcheck does not read system headers: give it <sys/queue.h>'s macros.
QUEUE_H = $(firstword $(wildcard /usr/include/sys/queue.h \
	/usr/include/$(shell $(CC) -dumpmachine)/sys/queue.h))

lint:
	cppcheck --quiet --enable=warning,portability --error-exitcode=1 \
	    -Icommon/include --include=$(QUEUE_H) --suppress=missingIncludeSystem \
	    --suppress=varFuncNullUB common supervisor bots

# ---------------------------------------------------------------- deps
# Debian package names for building, testing and running.
DEBS := build-essential pkg-config libcurl4-openssl-dev libpq-dev \
	libjansson-dev libevent-dev libinih-dev libssl-dev libcrypt-dev \
	libcmocka-dev postgresql tzdata curl systemd
DEBS_MISSING = $(shell for p in $(DEBS); do \
	dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	grep -q 'install ok installed' || echo $$p; done)

deps:
	@missing='$(DEBS_MISSING)'; \
	if [ -z "$$missing" ]; then echo "deps: all packages present"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	    echo "deps: missing packages; run as root:"; \
	    echo "  apt-get install$$missing"; exit 1; \
	fi

# ---------------------------------------------------------------- install
# packaging/ and etc/botd.ini are templates: @SBINDIR@ and the like become
# the directories of this install.
SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	-e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

install: all
	install -d $(DESTDIR)$(LIBEXECDIR)/botfleet
	$(foreach p,$(filter-out %/botd %/botd-alert,$(PROGRAMS)),install -D \
	    -m 0755 $(p) $(DESTDIR)$(BINDIR)/$(notdir $(p));)
	$(foreach p,$(filter %/botd,$(PROGRAMS)),install -D -m 0755 $(p) \
	    $(DESTDIR)$(SBINDIR)/$(notdir $(p));)
	$(foreach p,$(filter %/botd-alert,$(PROGRAMS)),install -D -m 0755 $(p) \
	    $(DESTDIR)$(LIBEXECDIR)/botfleet/$(notdir $(p));)
	$(foreach p,$(BOTS),install -D -m 0755 $(p) \
	    $(DESTDIR)$(LIBEXECDIR)/botfleet/$(notdir $(p));)
	install -d $(DESTDIR)$(DATADIR)/botfleet/sql
	install -m 0644 sql/*.sql $(DESTDIR)$(DATADIR)/botfleet/sql/
	install -d $(DESTDIR)$(SYSCONFDIR)/botfleet/bots.d
	for f in etc/* etc/*/*; do [ -f "$$f" ] || continue; \
	    t=$(DESTDIR)$(SYSCONFDIR)/botfleet/$${f#etc/}; \
	    mkdir -p "$$(dirname "$$t")" || exit 1; \
	    [ -e "$$t" ] || { $(SUBST) "$$f" >"$$t" && chmod 0644 "$$t"; } \
	    || exit 1; done
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(TMPFILESDIR)
	$(SUBST) packaging/systemd/botd.service \
	    >$(DESTDIR)$(SYSTEMDUNITDIR)/botd.service
	$(SUBST) packaging/sysusers.d/botfleet.conf \
	    >$(DESTDIR)$(SYSUSERSDIR)/botfleet.conf
	$(SUBST) packaging/tmpfiles.d/botfleet.conf \
	    >$(DESTDIR)$(TMPFILESDIR)/botfleet.conf
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/botd.service \
	    $(DESTDIR)$(SYSUSERSDIR)/botfleet.conf \
	    $(DESTDIR)$(TMPFILESDIR)/botfleet.conf

# The configuration in SYSCONFDIR/botfleet stays: it is the admin's.
uninstall:
	$(foreach p,$(PROGRAMS),rm -f $(DESTDIR)$(BINDIR)/$(notdir $(p)) \
	    $(DESTDIR)$(SBINDIR)/$(notdir $(p));)
	rm -rf $(DESTDIR)$(LIBEXECDIR)/botfleet $(DESTDIR)$(DATADIR)/botfleet
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/botd.service \
	    $(DESTDIR)$(SYSUSERSDIR)/botfleet.conf \
	    $(DESTDIR)$(TMPFILESDIR)/botfleet.conf

# ---------------------------------------------------------------- run
# The whole system in the foreground: PostgreSQL, the fake Bot API for bots
# without a token, botd with every bot (scripts/run). Ctrl-C stops it all.
run: deps
	$(Q)$(MAKE) --no-print-directory run-sandbox

run-sandbox: all $(B)/tests/fakes/tgfake $(B)/tests/example/echobot
	$(Q)BOTFLEET_BUILD='$(B)' BOTFLEET_BOTS='$(BOTS)' scripts/run

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
