# bots/love: the day-by-day gift bot.
# The binary is $(B)/bots/love, so the objects live apart, in
# $(B)/bots/.obj/love/.
LOVE_SRCS := $(sort $(wildcard bots/love/*.c))
LOVE_OBJS := $(LOVE_SRCS:bots/love/%.c=$(B)/bots/.obj/love/%.o)

$(B)/bots/.obj/love/%.o: bots/love/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/bots/love: $(LOVE_OBJS) $(LIB)
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

BOTS += $(B)/bots/love

