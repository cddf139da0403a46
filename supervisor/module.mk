# supervisor/: botd (every supervisor/*.c but botctl.c and alert-send.c),
# botctl, and botd-alert, the helper that makes botd's alert requests (so
# that botd never links libcurl: --as-needed drops what it does not use).
BOTD_SRCS := $(filter-out supervisor/botctl.c supervisor/alert-send.c,\
	$(sort $(wildcard supervisor/*.c)))
BOTD_OBJS := $(BOTD_SRCS:%.c=$(B)/%.o)

# Where botd looks for botd-alert first (botd.ini: alert_helper).
$(B)/supervisor/alert.o: ALL_CFLAGS += \
	-DBOTD_ALERT_HELPER=\"$(LIBEXECDIR)/botfleet/botd-alert\"

$(B)/botd: $(BOTD_OBJS) $(LIB)
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -Wl,--as-needed -o $@ $^ \
	    $(LIBS)

$(B)/botctl: $(B)/supervisor/botctl.o $(LIB)
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# Installed in LIBEXECDIR/botfleet (the Makefile's install).
$(B)/botd-alert: $(B)/supervisor/alert-send.o
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -Wl,--as-needed -o $@ $^ \
	    $(LIBS)

PROGRAMS += $(B)/botd $(B)/botctl $(B)/botd-alert

# The supervision tests' small children (tests/helper/*.c).
include tests/helper/module.mk
