ardour {
	["type"]    = "dsp",
	name        = "Cantus Test MIDI Counter",
	category    = "Utility",
	license     = "MIT",
	author      = "Cantus",
	description = [[Counts the MIDI events and note-ons that reach it and passes audio and MIDI
through unchanged. The Ardour integration test (tests/ardour_vst3.rs) puts it after Cantus to see
the plugin's MIDI output, which Ardour offers no other headless way to observe.]]
}

-- Shared memory, read by play.lua: [0] MIDI events seen, [1] note-ons (velocity > 0).
function dsp_ioconfig ()
	return { { midi_in = 1, midi_out = 1, audio_in = -1, audio_out = -1 } }
end

function dsp_init (rate)
	self:shmem ():allocate (2)
	self:shmem ():atomic_set_int (0, 0)
	self:shmem ():atomic_set_int (1, 0)
end

function dsp_configure (ins, outs)
	n_out = outs
end

function dsp_runmap (bufs, in_map, out_map, n_samples, offset)
	ARDOUR.DSP.process_map (bufs, n_out, in_map, out_map, n_samples, offset)

	local ib = in_map:get (ARDOUR.DataType ("midi"), 0)
	if ib == ARDOUR.ChanMapping.Invalid then
		return
	end
	local events, note_ons = 0, 0
	for _, e in pairs (bufs:get_midi (ib):table ()) do
		local bytes = e:buffer ():array ()
		events = events + 1
		if e:size () == 3 and (bytes[1] >> 4) == 9 and bytes[3] > 0 then
			note_ons = note_ons + 1
		end
	end
	if events > 0 then
		local shm = self:shmem ()
		shm:atomic_set_int (0, shm:atomic_get_int (0) + events)
		shm:atomic_set_int (1, shm:atomic_get_int (1) + note_ons)
	end
end
