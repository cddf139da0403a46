# bots/game: the main game bot. The binary is $(B)/bots/game, so the
# objects live apart, in $(B)/bots/.obj/game/.
GAME_SRCS := $(sort $(wildcard bots/game/*.c))
GAME_OBJS := $(GAME_SRCS:bots/game/%.c=$(B)/bots/.obj/game/%.o)

$(B)/bots/.obj/game/%.o: bots/game/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/bots/game: $(GAME_OBJS) $(LIB)
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

BOTS += $(B)/bots/game
