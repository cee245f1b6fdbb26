// Drives fakecam's ONVIF service with an independent client, agsh/onvif
// (npm "onvif", pinned in package.json), and prints one JSON line of what
// it saw. Run by onvifsrv's TestNpmOnvifClient with HOST, PORT, USERNAME,
// PASSWORD; the camera raises motion by itself (Options.MotionEvery).
import onvif from 'onvif';

const { Cam } = onvif;
const env = (k) => {
	if (!process.env[k]) throw new Error(`${k} is not set`);
	return process.env[k];
};

// call promisifies one callback method of the camera.
const call = (cam, method, ...args) => new Promise((resolve, reject) => {
	cam[method](...args, (err, result) => (err ? reject(new Error(`${method}: ${err.message}`)) : resolve(result)));
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
	const cam = await new Promise((resolve, reject) => {
		const c = new Cam({
			hostname: env('HOST'),
			port: Number(env('PORT')),
			username: env('USERNAME'),
			password: env('PASSWORD'),
			path: '/onvif/device_service',
			timeout: 20000,
		}, (err) => (err ? reject(new Error(`connect: ${err.message}`)) : resolve(c)));
	});
	const out = {};

	const info = await call(cam, 'getDeviceInformation');
	out.manufacturer = String(info.manufacturer);
	out.model = String(info.model);
	out.serial = String(info.serialNumber);

	const profiles = await call(cam, 'getProfiles');
	out.profiles = profiles.map((p) => p.$.token);
	out.activeSource = cam.activeSource && cam.activeSource.sourceToken;
	out.resolution = profiles.map((p) => `${p.videoEncoderConfiguration.resolution.width}x${p.videoEncoderConfiguration.resolution.height}`);

	const token = out.profiles[0];
	out.streamUri = (await call(cam, 'getStreamUri', { protocol: 'RTSP', profileToken: token })).uri;
	out.snapshotUri = (await call(cam, 'getSnapshotUri', { profileToken: token })).uri;

	const status0 = await call(cam, 'getStatus', { profileToken: token });
	await call(cam, 'continuousMove', { profileToken: token, x: 0.8, y: -0.5, zoom: 0, timeout: 5000 });
	await sleep(400);
	const moving = await call(cam, 'getStatus', { profileToken: token });
	await call(cam, 'stop', { profileToken: token, panTilt: true, zoom: true });
	const stopped = await call(cam, 'getStatus', { profileToken: token });
	out.ptz = {
		start: status0.position,
		moving: moving.moveStatus.panTilt,
		afterStop: stopped.position,
		afterStopStatus: stopped.moveStatus.panTilt,
	};
	await call(cam, 'absoluteMove', { profileToken: token, x: 0.25, y: 0.5, zoom: 0.75 });
	out.ptz.absolute = (await call(cam, 'getStatus', { profileToken: token })).position;

	const presetToken = await call(cam, 'setPreset', { profileToken: token, presetName: 'door' });
	out.setPresetResponse = presetToken && presetToken[0] && presetToken[0].setPresetResponse
		? String(presetToken[0].setPresetResponse[0].presetToken[0]) : null;
	await call(cam, 'absoluteMove', { profileToken: token, x: -1, y: -1, zoom: 0 });
	const presets = await call(cam, 'getPresets', { profileToken: token });
	out.presets = Object.fromEntries(Object.entries(presets).map(([name, p]) => [name, p.$.token]));
	await call(cam, 'gotoPreset', { profileToken: token, preset: out.presets.door });
	out.ptz.afterPreset = (await call(cam, 'getStatus', { profileToken: token })).position;

	const props = await call(cam, 'getEventProperties');
	out.topicSet = Object.keys(props.topicSet || {}).filter((k) => k !== '$');

	const sub = await call(cam, 'createPullPointSubscription');
	out.subscription = sub.subscriptionReference.address.href;
	out.events = [];
	const deadline = Date.now() + 15000;
	while (Date.now() < deadline && !out.events.some((e) => e.isMotion === true && e.operation === 'Changed')) {
		const res = await call(cam, 'pullMessages', { messageLimit: 10 });
		let msgs = res.notificationMessage || [];
		if (!Array.isArray(msgs)) msgs = [msgs];
		for (const m of msgs) {
			const msg = m.message.message;
			out.events.push({
				topic: m.topic._,
				operation: msg.$.PropertyOperation,
				source: msg.source.simpleItem[0] ? msg.source.simpleItem[0].$.Value : msg.source.simpleItem.$.Value,
				isMotion: msg.data.simpleItem.$.Value,
			});
		}
	}
	await call(cam, 'renew', {});
	await call(cam, 'unsubscribe');

	console.log(JSON.stringify(out));
}

main().catch((err) => {
	console.error(err && err.stack ? err.stack : String(err));
	process.exit(1);
});
