package whepclient

import "testing"

func TestAudioCodecOf(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
	for want, answer := range map[string]string{
		"opus": head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n" +
			"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=sendonly\r\n",
		"pcmu": head + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=sendonly\r\n",
		"":     head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=inactive\r\n",
		"none": head + "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\n",
	} {
		if want == "none" {
			want = ""
		}
		if got := audioCodecOf(answer); got != want {
			t.Errorf("audioCodecOf = %q, want %q for\n%s", got, want, answer)
		}
	}
}
