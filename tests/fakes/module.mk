# tests/fakes: tgfake, the fake Telegram Bot API server (serve.c: its
# listening, shared with pricefake), and promcheck, a
# strict checker of the Prometheus text format (both built by make check).
# Other programs' sources here are not part of tgfake (pricefake.c is
# built by bots/btc/module.mk).
TGFAKE_NOT  := tests/fakes/promcheck.c tests/fakes/pricefake.c
TGFAKE_SRCS := $(filter-out $(TGFAKE_NOT), $(sort $(wildcard tests/fakes/*.c)))
TGFAKE_OBJS := $(TGFAKE_SRCS:%.c=$(B)/%.o)

$(B)/tests/fakes/tgfake: $(TGFAKE_OBJS) $(LIB)
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# libc and libm only.
$(B)/tests/fakes/promcheck: $(B)/tests/fakes/promcheck.o
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ -lm

TEST_PROGRAMS += $(B)/tests/fakes/tgfake $(B)/tests/fakes/promcheck
