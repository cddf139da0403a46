# supervisor/: botd (every supervisor/*.c but botctl.c) and botctl.
BOTD_SRCS := $(filter-out supervisor/botctl.c,\
	$(sort $(wildcard supervisor/*.c)))
BOTD_OBJS := $(BOTD_SRCS:%.c=$(B)/%.o)

$(B)/botd: $(BOTD_OBJS) $(LIB)
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(B)/botctl: $(B)/supervisor/botctl.o $(LIB)
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

PROGRAMS += $(B)/botd $(B)/botctl

# The supervision tests' small children (tests/helper/*.c).
include tests/helper/module.mk
