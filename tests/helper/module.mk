# tests/helper: small programs the botd integration tests supervise.
HELPER_SRCS := $(sort $(wildcard tests/helper/*.c))
HELPER_BINS := $(HELPER_SRCS:tests/helper/%.c=$(B)/tests/helper/%)

$(HELPER_BINS): $(B)/tests/helper/%: $(B)/tests/helper/%.o $(LIB)
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

TEST_PROGRAMS += $(HELPER_BINS)
