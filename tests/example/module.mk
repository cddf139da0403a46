# The example bot, built for the integration tests and the benchmark.
$(B)/tests/example/echobot: $(B)/tests/example/echobot.o $(LIB)
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
TEST_PROGRAMS += $(B)/tests/example/echobot
