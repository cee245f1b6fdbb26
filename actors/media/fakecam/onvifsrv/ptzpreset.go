package onvifsrv

import "errors"

// The PTZ service's presets.

func (c *call) getPresets() (node, error) {
	if _, err := c.profileArg(); err != nil {
		return node{}, err
	}
	resp := el("tptz:GetPresetsResponse")
	for _, p := range c.s.ptz.listPresets() {
		resp = resp.add(el("tptz:Preset", leaf("tt:Name", p.name), positionNode("tt:PTZPosition", p.pos)).attr("token", p.token))
	}
	return resp, nil
}

func presetFault(err error, token string) error {
	switch {
	case errors.Is(err, errNoPreset):
		return faultInvalidArgVal("ter:NoToken", "no preset "+quoteToken(token))
	case errors.Is(err, errPresetExists):
		return faultInvalidArgVal("ter:PresetExist", err.Error())
	case errors.Is(err, errTooManyPreset):
		return receiverFault(err.Error(), "ter:Action", "ter:TooManyPresets")
	}
	return err
}

func (c *call) setPreset() (node, error) {
	if _, err := c.profileArg(); err != nil {
		return node{}, err
	}
	name := c.op.child("PresetName").text()
	if len(name) > 64 {
		return node{}, faultInvalidArgVal("ter:InvalidPresetName", "preset names have at most 64 characters")
	}
	token := c.op.child("PresetToken").text()
	tok, err := c.s.ptz.setPreset(token, name)
	if err != nil {
		return node{}, presetFault(err, token)
	}
	return el("tptz:SetPresetResponse", leaf("tptz:PresetToken", tok)), nil
}

func (c *call) gotoPreset() (node, error) {
	if _, err := c.profileArg(); err != nil {
		return node{}, err
	}
	token := c.op.child("PresetToken").text()
	if err := c.s.ptz.gotoPreset(token); err != nil {
		return node{}, presetFault(err, token)
	}
	return el("tptz:GotoPresetResponse"), nil
}

func (c *call) removePreset() (node, error) {
	if _, err := c.profileArg(); err != nil {
		return node{}, err
	}
	token := c.op.child("PresetToken").text()
	if err := c.s.ptz.removePreset(token); err != nil {
		return node{}, presetFault(err, token)
	}
	return el("tptz:RemovePresetResponse"), nil
}
