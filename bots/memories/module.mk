# bots/memories: the password-protected weekly diary. The binary is
# $(B)/bots/memories, so the objects live apart, in $(B)/bots/.obj/memories/.
MEMORIES_SRCS := $(sort $(wildcard bots/memories/*.c))
MEMORIES_OBJS := $(MEMORIES_SRCS:bots/memories/%.c=$(B)/bots/.obj/memories/%.o)

$(B)/bots/.obj/memories/%.o: bots/memories/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/bots/memories: $(MEMORIES_OBJS) $(LIB)
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

BOTS += $(B)/bots/memories

# Unit tests of the bot's pure parts (text, zones, sealing), linked with
# those objects: tests/unit/test_memories.c.
MEMORIES_PURE := $(addprefix $(B)/bots/.obj/memories/,text.o zone.o seal.o)
$(B)/tests/unit/test_memories: $(B)/tests/unit/test_memories.o \
    $(MEMORIES_PURE) $(LIB)
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -lcmocka
$(B)/tests/unit/test_memories.o: ALL_CFLAGS += -Ibots/memories
