# tests/fakes: tgfake, the fake Telegram Bot API server (built by make check).
TGFAKE_SRCS := $(sort $(wildcard tests/fakes/*.c))
TGFAKE_OBJS := $(TGFAKE_SRCS:%.c=$(B)/%.o)

$(B)/tests/fakes/tgfake: $(TGFAKE_OBJS) $(LIB)
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

TEST_PROGRAMS += $(B)/tests/fakes/tgfake
