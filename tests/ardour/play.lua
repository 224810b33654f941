-- Run by tests/ardour_vst3.rs through ardour7-lua:
--   ardour7-lua play.lua SESSION_DIR PLUGIN_NAME TEMPO_BPM MAX_SECONDS
-- Creates a session on the dummy backend with one MIDI track whose instrument is the VST3
-- plugin PLUGIN_NAME (found in Ardour's plugin cache, which the test filled with the scanner),
-- puts the "Cantus Test MIDI Counter" after it, rolls the transport at TEMPO_BPM until the
-- track's meter shows sound and MIDI has come out (or MAX_SECONDS pass), then prints what it
-- measured as "result: KEY VALUE" lines for the test to judge. Any error() exits non-zero.

local session_dir, plugin_name = arg[1], arg[2]
local tempo, max_seconds = tonumber (arg[3]), tonumber (arg[4])
assert (session_dir and plugin_name and tempo and max_seconds,
	"usage: play.lua SESSION_DIR PLUGIN_NAME TEMPO_BPM MAX_SECONDS")

local function result (key, value)
	print (string.format ("result: %s %s", key, tostring (value)))
end

-- No audio hardware, no JACK: the dummy backend runs the process graph in real time.
assert (AudioEngine:set_backend ("None (Dummy)", "", ""), "cannot select the dummy backend")
if not create_session (session_dir, "cantus", 48000) then
	error ("create_session failed in " .. session_dir)
end

-- Ardour only reads its plugin cache here: the scanner must have indexed the bundle.
local instrument = nil
for p in ARDOUR.LuaAPI.list_plugins ():iter () do
	if p.type == ARDOUR.PluginType.VST3 then
		print (string.format ("VST3 plugin in the cache: %s (%s) at %s", p.name, p.unique_id, p.path))
		if p.name == plugin_name then
			instrument = p
		end
	end
end
if not instrument then
	error ("Ardour does not list the VST3 plugin " .. plugin_name)
end
result ("found", instrument.name)
result ("midi-outputs", instrument.n_outputs:n_midi ())

-- A known tempo from the first beat on.
local tm = Temporal.TempoMap.fetch_writable ()
tm:set_tempo (Temporal.Tempo (tempo, tempo, 4), Temporal.timepos_t (0))
Temporal.TempoMap.update (tm)
result ("tempo", Temporal.TempoMap.read ():quarters_per_minute_at (Temporal.timepos_t (0)))

-- Inputs left unconnected: every note the track sees comes from the plugin itself.
local tracks = Session:new_midi_track (
	ARDOUR.ChanCount (ARDOUR.DataType ("midi"), 1), ARDOUR.ChanCount (ARDOUR.DataType ("audio"), 2),
	false, instrument, nil, nil, 1, "Cantus", ARDOUR.PresentationInfo.max_order,
	ARDOUR.TrackMode.Normal, false, false)
if tracks:size () ~= 1 then
	error ("new_midi_track did not create the track")
end
local track = tracks:front ()
local insert = track:nth_plugin (0)
if insert:isnil () or insert:display_name () ~= plugin_name then
	error ("the track has no " .. plugin_name .. " instrument")
end

local counter = ARDOUR.LuaAPI.new_luaproc (Session, "Cantus Test MIDI Counter")
if counter:isnil () then
	error ("cannot create the MIDI counter (is midi_counter.lua in the user's scripts folder?)")
end
if track:add_processor_by_index (counter, 1, nil, true) ~= 0 then
	error ("cannot insert the MIDI counter after the instrument")
end
local shm = counter:to_insert ():plugin (0):to_luaproc ():shmem ()

local order = {}
local i = 0
while not track:nth_processor (i):isnil () do
	order[#order + 1] = track:nth_processor (i):display_name ()
	i = i + 1
end
print ("processors: " .. table.concat (order, " > "))
result ("active", insert:active ())

-- Peak since the last reset, in dB, over the meter's channels.
local meter = track:peak_meter ()
local function max_peak_db ()
	local peak = -math.huge
	for c = 0, meter:output_streams ():n_audio () - 1 do
		peak = math.max (peak, meter:meter_level (c, ARDOUR.MeterType.MeterMaxPeak))
	end
	return peak
end

local silence_db = -80
result ("peak-before-roll-db", max_peak_db ())
Session:request_roll (ARDOUR.TransportRequestSource.TRS_UI)
local step, waited, sound_at = 0.25, 0, nil
repeat
	sleep (step)
	waited = waited + step
	if not sound_at and max_peak_db () > silence_db then
		sound_at = waited
	end
until (sound_at and shm:atomic_get_int (1) > 0 and waited >= sound_at + 1) or waited >= max_seconds
result ("rolling", Session:transport_rolling ())
result ("seconds-rolled", waited)
result ("transport-seconds", Session:transport_sample () / Session:nominal_sample_rate ())
result ("first-sound-after-seconds", sound_at or "never")
result ("peak-db", max_peak_db ())
result ("midi-events", shm:atomic_get_int (0))
result ("note-ons", shm:atomic_get_int (1))

Session:request_stop (false, false, ARDOUR.TransportRequestSource.TRS_UI)
sleep (0.5)
result ("stopped", not Session:transport_rolling ())
close_session ()
result ("done", true)
