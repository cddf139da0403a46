# bots/btc: the Bitcoin price bot, and its fake price server for the tests.
# The binary is $(B)/bots/btc, so the objects live apart, in
# $(B)/bots/.obj/btc/.
BTC_SRCS := $(sort $(wildcard bots/btc/*.c))
BTC_OBJS := $(BTC_SRCS:bots/btc/%.c=$(B)/bots/.obj/btc/%.o)

$(B)/bots/.obj/btc/%.o: bots/btc/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/bots/btc: $(BTC_OBJS) $(LIB)
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

BOTS += $(B)/bots/btc

# pricefake: CoinMarketCap and Coinbase price replies, a settable price
# and injectable failures (tests/fakes/pricefake.c, compiled by the
# Makefile's pattern rule; tests/fakes/module.mk leaves it out of tgfake).
$(B)/tests/fakes/pricefake: $(B)/tests/fakes/pricefake.o \
    $(B)/tests/fakes/serve.o $(LIB)
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

TEST_PROGRAMS += $(B)/tests/fakes/pricefake
