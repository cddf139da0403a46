# The log sink's unit test: tests/unit-botd/test_logs.c linked with
# supervisor/logs.o (not with the rest of botd), built as a unit test
# binary so that tests/run picks it up.
$(B)/tests/unit-botd/test_logs.o: ALL_CFLAGS += -Isupervisor

$(B)/tests/unit/test_logs: $(B)/tests/unit-botd/test_logs.o \
    $(B)/supervisor/logs.o $(LIB)
	@mkdir -p $(@D)
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

TEST_PROGRAMS += $(B)/tests/unit/test_logs
